"""Hub model search -> model cards (metadata, tables, template, prose) and CodeCarbon files."""

from __future__ import annotations

from pathlib import PurePosixPath

from crawler.extract.dataset_tables import extract_codecarbon
from crawler.extract.datafiles import DataFileError
from crawler.extract.model_cards import co2_eq_emissions_records, decode_card, extract_card
from crawler.items import Measurement

from .arguments import list_argument
from .base import contained, utc_now
from .hub import HubListingSpider

CARBON_TAG = "co2_eq_emissions"
_ENERGY_WORDS = ("energy", "power", "carbon", "co2", "emission", "watt")


def candidate_reason(entry: dict, from_listing: str) -> str | None:
    """Why a model's README is worth fetching, or None when it is not."""
    card_data = entry.get("cardData") or {}
    if isinstance(card_data, dict) and CARBON_TAG in card_data:
        return "carbon_metadata"
    tags = [str(tag).lower() for tag in entry.get("tags") or []]
    if any(word in tag for tag in tags for word in _ENERGY_WORDS):
        return "energy_tag"
    files = [str(s.get("rfilename", "")).lower() for s in entry.get("siblings") or [] if isinstance(s, dict)]
    if any(word in PurePosixPath(f).name for f in files for word in _ENERGY_WORDS):
        return "energy_file"
    if from_listing in ("search", "ids"):
        return "search_hit"
    return None


class HubModelsSpider(HubListingSpider):
    """Searches Hub models and reads the power and energy figures their cards publish.

    Arguments (besides HubListingSpider's ``search``, ``ids`` and ``max_pages``): ``-a filter=tag,tag``
    replaces the default tag listing (every model tagged co2_eq_emissions, by downloads).
    """

    name = "hub_models"
    repo_type = "models"
    default_searches = ("Llama", "Mistral", "GPT", "H100")
    default_filters = (CARBON_TAG,)
    listing_params = {"full": "true", "cardData": "true"}

    def __init__(self, *args, filter=None, **kwargs):  # noqa: A002 (the -a name users type)
        super().__init__(*args, **kwargs)
        self.filters = list_argument("filter", filter, self.default_filters)

    async def start(self):
        for repo_id in self.ids:
            yield self.repo_request(repo_id, from_listing="ids")
        for term in self.searches:
            yield self.listing_request(self.listing_url(search=term), 1, from_listing="search")
        for tag in self.filters:
            yield self.listing_request(self.listing_url(filter=tag), 1, from_listing="filter")

    def repo_entry(self, entry: dict, from_listing: str = "search"):
        repo_id = entry["id"]
        if not self.first_time("models_seen", repo_id):
            return
        self.count("models_listed")
        card_data = entry.get("cardData")
        has_card_data = isinstance(card_data, dict)
        if has_card_data:
            # Contained on its own: metadata that cannot be read still leaves the card to read.
            with self.failures_contained(f"{self.human_url(repo_id)} (cardData in the listing)"):
                yield from self.measurements(co2_eq_emissions_records(card_data), repo_id)
        reason = candidate_reason(entry, from_listing)
        if reason is None:
            self.count("models_not_candidates")
            return
        self.count(f"candidates/{reason}")
        siblings = [s.get("rfilename", "") for s in entry.get("siblings") or [] if isinstance(s, dict)]
        if "README.md" in siblings or not siblings:
            yield self.api_request(
                self.file_url(repo_id, "README.md"), self.parse_card,
                cb_kwargs={"repo_id": repo_id, "with_metadata": not has_card_data},
                meta={"download_maxsize": self.settings.getint("HUB_MAX_CARD_BYTES")},
            )
        else:
            self.count("models_without_card")
        for path in siblings:
            if PurePosixPath(path).name == "emissions.csv":
                yield self.api_request(
                    self.file_url(repo_id, path), self.parse_emissions,
                    cb_kwargs={"repo_id": repo_id, "path": path,
                               "context": " ".join([repo_id, *map(str, entry["tags"])])},
                    meta={"download_maxsize": self.settings.getint("HUB_MAX_FILE_BYTES")},
                )

    @contained
    def parse_card(self, response, repo_id, with_metadata):
        try:
            content = decode_card(response.body)
        except DataFileError as exc:
            self.count_problem(exc.kind, f"{repo_id}: {exc.detail}")
            return
        self.count("cards_read")
        extraction = extract_card(content, with_metadata=with_metadata)
        self.report_problems(repo_id, extraction.problems)
        self.report_skipped(repo_id, extraction.skipped)
        yield from self.measurements(extraction.records, repo_id)

    @contained
    def parse_emissions(self, response, repo_id, path, context):
        table = self.read_table(response, path, f"{repo_id}/{path}")
        if table is None:
            return
        extraction = extract_codecarbon(table.rows, path, context)
        self.report_problems(f"{repo_id}/{path}", extraction.problems)
        yield from self.measurements(extraction.records, repo_id, self.human_url(repo_id, path))

    def measurements(self, records: list[dict], repo_id: str, url: str | None = None):
        retrieved_at = utc_now()
        for record in records:
            self.count("records_found")
            # A table row names its own model (often another size than the card's repo).
            model_id = None if record.get("model_name") else repo_id
            yield Measurement(source=self.name, url=url or self.human_url(repo_id),
                              retrieved_at=retrieved_at, model_id=model_id, **record)
