from __future__ import annotations

import jsonschema
from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from crawler.items import measurement_schema
from crawler.pipelines import CountingPipeline


def schema_validator() -> jsonschema.protocols.Validator:
    schema = measurement_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


class ValidateSchemaPipeline(CountingPipeline):
    """Lets out only records that match the shipped JSON Schema; others are dropped and counted."""

    def __init__(self, stats):
        super().__init__(stats)
        self.validator = schema_validator()

    def process_item(self, item):
        record = ItemAdapter(item).asdict()
        errors = sorted(self.validator.iter_errors(record), key=lambda e: list(e.path))
        if errors:
            self.stats.inc_value("measurement/invalid")
            for error in errors:
                self.stats.inc_value(f"measurement/invalid/{'.'.join(map(str, error.path)) or 'record'}")
            described = "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:3])
            raise DropItem(f"record does not match the schema: {described}")
        self.stats.inc_value("measurement/valid")
        return item
