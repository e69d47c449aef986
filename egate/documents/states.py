"""Codes that may stand for an issuing state or a nationality in an MRZ.

ICAO Doc 9303 part 3 uses the ISO 3166-1 alpha-3 country codes and adds its
own: ``D`` for Germany, codes for international organisations, for stateless
persons and refugees, and ``UTO`` for the fictitious Utopia of the specimens.
"""

from __future__ import annotations

import pycountry

# ICAO's additions to ISO 3166-1 (Doc 9303 part 3, section 5), with what each
# stands for, so that a report can name them.
ICAO_SPECIFIC_CODES: dict[str, str] = {
    "D": "Germany",
    "EUE": "European Union",
    "UNO": "United Nations Organization or one of its officials",
    "UNA": "Specialized agency of the United Nations or one of its officials",
    "UNK": "Resident of Kosovo to whom a travel document was issued by UNMIK",
    "XBA": "African Development Bank",
    "XIM": "African Export-Import Bank",
    "XCC": "Caribbean Community or one of its emissaries",
    "XCE": "Council of Europe",
    "XCO": "Common Market for Eastern and Southern Africa",
    "XEC": "Economic Community of West African States",
    "XES": "Organisation of Eastern Caribbean States",
    "XMP": "Parliamentary Assembly of the Mediterranean",
    "XOM": "Sovereign Military Order of Malta",
    "XPO": "International Criminal Police Organization (INTERPOL)",
    "XDC": "Southern African Development Community",
    "XXA": "Stateless person (1954 Convention)",
    "XXB": "Refugee (1951 Convention)",
    "XXC": "Refugee (other than the 1951 Convention)",
    "XXX": "Person of unspecified nationality",
    "GBD": "British Overseas Territories Citizen",
    "GBN": "British National (Overseas)",
    "GBO": "British Overseas Citizen",
    "GBP": "British Protected Person",
    "GBS": "British Subject",
    # Kosovo issues passports under this code; it is not assigned by ISO.
    "RKS": "Kosovo",
    "UTO": "Utopia (ICAO specimen documents)",
}

_ISO_ALPHA3: frozenset[str] = frozenset(country.alpha_3 for country in pycountry.countries)

KNOWN_STATE_CODES: frozenset[str] = _ISO_ALPHA3 | frozenset(ICAO_SPECIFIC_CODES)


def is_known_state(code: str) -> bool:
    """Whether ``code`` (fillers already stripped) is an ICAO state or organisation code."""
    return code in KNOWN_STATE_CODES


def state_name(code: str) -> str | None:
    """A readable name for ``code``, or None when the code is unknown."""
    if code in ICAO_SPECIFIC_CODES:
        return ICAO_SPECIFIC_CODES[code]
    country = pycountry.countries.get(alpha_3=code)
    return None if country is None else str(country.name)
