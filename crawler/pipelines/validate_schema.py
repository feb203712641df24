from __future__ import annotations

import jsonschema
from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from crawler.items import Discussion, Measurement, discussion_schema, measurement_schema
from crawler.pipelines import CountingPipeline


def schema_validator(schema: dict) -> jsonschema.protocols.Validator:
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


class ValidateSchemaPipeline(CountingPipeline):
    """Lets out only records that match their shipped JSON Schema; others are dropped and counted."""

    def __init__(self, stats):
        super().__init__(stats)
        self.validators = {Measurement: ("measurement", schema_validator(measurement_schema())),
                           Discussion: ("discussion", schema_validator(discussion_schema()))}

    def process_item(self, item):
        if type(item) not in self.validators:
            return item
        kind, validator = self.validators[type(item)]
        record = ItemAdapter(item).asdict()
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
        if errors:
            self.stats.inc_value(f"{kind}/invalid")
            for error in errors:
                self.stats.inc_value(f"{kind}/invalid/{'.'.join(map(str, error.path)) or 'record'}")
            described = "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors[:3])
            raise DropItem(f"{kind} does not match the schema: {described}")
        self.stats.inc_value(f"{kind}/valid")
        return item
