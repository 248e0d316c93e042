"""Vessel identity lookups: flag state from the MMSI's MID, ship type code as text.

The MID (Maritime Identification Digits) table is the ITU's (ITU-R M.585, Table of MIDs); a
country may hold several MIDs. Ship type codes are those of ITU-R M.1371 (AIS message 5, field
"type of ship and cargo").
"""

from __future__ import annotations

import polars as pl

# MID, ISO 3166-1 alpha-2 code, name (territories name their administering country).
_MID_TEXT = """
201 AL Albania
202 AD Andorra
203 AT Austria
204 PT Azores (Portugal)
205 BE Belgium
206 BY Belarus
207 BG Bulgaria
208 VA Vatican City
209 CY Cyprus
210 CY Cyprus
211 DE Germany
212 CY Cyprus
213 GE Georgia
214 MD Moldova
215 MT Malta
216 AM Armenia
218 DE Germany
219 DK Denmark
220 DK Denmark
224 ES Spain
225 ES Spain
226 FR France
227 FR France
228 FR France
229 MT Malta
230 FI Finland
231 FO Faroe Islands (Denmark)
232 GB United Kingdom
233 GB United Kingdom
234 GB United Kingdom
235 GB United Kingdom
236 GI Gibraltar (UK)
237 GR Greece
238 HR Croatia
239 GR Greece
240 GR Greece
241 GR Greece
242 MA Morocco
243 HU Hungary
244 NL Netherlands
245 NL Netherlands
246 NL Netherlands
247 IT Italy
248 MT Malta
249 MT Malta
250 IE Ireland
251 IS Iceland
252 LI Liechtenstein
253 LU Luxembourg
254 MC Monaco
255 PT Madeira (Portugal)
256 MT Malta
257 NO Norway
258 NO Norway
259 NO Norway
261 PL Poland
262 ME Montenegro
263 PT Portugal
264 RO Romania
265 SE Sweden
266 SE Sweden
267 SK Slovakia
268 SM San Marino
269 CH Switzerland
270 CZ Czechia
271 TR Turkey
272 UA Ukraine
273 RU Russia
274 MK North Macedonia
275 LV Latvia
276 EE Estonia
277 LT Lithuania
278 SI Slovenia
279 RS Serbia
301 AI Anguilla (UK)
303 US Alaska (USA)
304 AG Antigua and Barbuda
305 AG Antigua and Barbuda
306 CW Curacao, Sint Maarten, Bonaire (Netherlands)
307 AW Aruba (Netherlands)
308 BS Bahamas
309 BS Bahamas
310 BM Bermuda (UK)
311 BS Bahamas
312 BZ Belize
314 BB Barbados
316 CA Canada
319 KY Cayman Islands (UK)
321 CR Costa Rica
323 CU Cuba
325 DM Dominica
327 DO Dominican Republic
329 GP Guadeloupe (France)
330 GD Grenada
331 GL Greenland (Denmark)
332 GT Guatemala
334 HN Honduras
336 HT Haiti
338 US United States
339 JM Jamaica
341 KN Saint Kitts and Nevis
343 LC Saint Lucia
345 MX Mexico
347 MQ Martinique (France)
348 MS Montserrat (UK)
350 NI Nicaragua
351 PA Panama
352 PA Panama
353 PA Panama
354 PA Panama
355 PA Panama
356 PA Panama
357 PA Panama
358 PR Puerto Rico (USA)
359 SV El Salvador
361 PM Saint Pierre and Miquelon (France)
362 TT Trinidad and Tobago
364 TC Turks and Caicos Islands (UK)
366 US United States
367 US United States
368 US United States
369 US United States
370 PA Panama
371 PA Panama
372 PA Panama
373 PA Panama
374 PA Panama
375 VC Saint Vincent and the Grenadines
376 VC Saint Vincent and the Grenadines
377 VC Saint Vincent and the Grenadines
378 VG British Virgin Islands (UK)
379 VI United States Virgin Islands (USA)
401 AF Afghanistan
403 SA Saudi Arabia
405 BD Bangladesh
408 BH Bahrain
410 BT Bhutan
412 CN China
413 CN China
414 CN China
416 TW Taiwan
417 LK Sri Lanka
419 IN India
422 IR Iran
423 AZ Azerbaijan
425 IQ Iraq
428 IL Israel
431 JP Japan
432 JP Japan
434 TM Turkmenistan
436 KZ Kazakhstan
437 UZ Uzbekistan
438 JO Jordan
440 KR South Korea
441 KR South Korea
443 PS Palestine
445 KP North Korea
447 KW Kuwait
450 LB Lebanon
451 KG Kyrgyzstan
453 MO Macao (China)
455 MV Maldives
457 MN Mongolia
459 NP Nepal
461 OM Oman
463 PK Pakistan
466 QA Qatar
468 SY Syria
470 AE United Arab Emirates
471 AE United Arab Emirates
472 TJ Tajikistan
473 YE Yemen
475 YE Yemen
477 HK Hong Kong (China)
478 BA Bosnia and Herzegovina
501 TF Adelie Land (France)
503 AU Australia
506 MM Myanmar
508 BN Brunei
510 FM Micronesia
511 PW Palau
512 NZ New Zealand
514 KH Cambodia
515 KH Cambodia
516 CX Christmas Island (Australia)
518 CK Cook Islands (New Zealand)
520 FJ Fiji
523 CC Cocos (Keeling) Islands (Australia)
525 ID Indonesia
529 KI Kiribati
531 LA Laos
533 MY Malaysia
536 MP Northern Mariana Islands (USA)
538 MH Marshall Islands
540 NC New Caledonia (France)
542 NU Niue (New Zealand)
544 NR Nauru
546 PF French Polynesia (France)
548 PH Philippines
550 TL Timor-Leste
553 PG Papua New Guinea
555 PN Pitcairn Islands (UK)
557 SB Solomon Islands
559 AS American Samoa (USA)
561 WS Samoa
563 SG Singapore
564 SG Singapore
565 SG Singapore
566 SG Singapore
567 TH Thailand
570 TO Tonga
572 TV Tuvalu
574 VN Vietnam
576 VU Vanuatu
577 VU Vanuatu
578 WF Wallis and Futuna (France)
601 ZA South Africa
603 AO Angola
605 DZ Algeria
607 TF Saint Paul and Amsterdam Islands (France)
608 SH Ascension Island (UK)
609 BI Burundi
610 BJ Benin
611 BW Botswana
612 CF Central African Republic
613 CM Cameroon
615 CG Congo
616 KM Comoros
617 CV Cabo Verde
618 TF Crozet Archipelago (France)
619 CI Cote d'Ivoire
620 KM Comoros
621 DJ Djibouti
622 EG Egypt
624 ET Ethiopia
625 ER Eritrea
626 GA Gabon
627 GH Ghana
629 GM Gambia
630 GW Guinea-Bissau
631 GQ Equatorial Guinea
632 GN Guinea
633 BF Burkina Faso
634 KE Kenya
635 TF Kerguelen Islands (France)
636 LR Liberia
637 LR Liberia
638 SS South Sudan
642 LY Libya
644 LS Lesotho
645 MU Mauritius
647 MG Madagascar
649 ML Mali
650 MZ Mozambique
654 MR Mauritania
655 MW Malawi
656 NE Niger
657 NG Nigeria
659 NA Namibia
660 RE Reunion (France)
661 RW Rwanda
662 SD Sudan
663 SN Senegal
664 SC Seychelles
665 SH Saint Helena (UK)
666 SO Somalia
667 SL Sierra Leone
668 ST Sao Tome and Principe
669 SZ Eswatini
670 TD Chad
671 TG Togo
672 TN Tunisia
674 TZ Tanzania
675 UG Uganda
676 CD DR Congo
677 TZ Tanzania
678 ZM Zambia
679 ZW Zimbabwe
701 AR Argentina
710 BR Brazil
720 BO Bolivia
725 CL Chile
730 CO Colombia
735 EC Ecuador
740 FK Falkland Islands (UK)
745 GF French Guiana (France)
750 GY Guyana
755 PY Paraguay
760 PE Peru
765 SR Suriname
770 UY Uruguay
775 VE Venezuela
"""


def _parse_mids(text: str) -> dict[int, tuple[str, str]]:
    table: dict[int, tuple[str, str]] = {}
    for line in text.strip().splitlines():
        mid, iso2, name = line.split(" ", 2)
        table[int(mid)] = (iso2, name)
    return table


#: MID -> (ISO 3166-1 alpha-2, country or territory name).
MID_COUNTRIES: dict[int, tuple[str, str]] = _parse_mids(_MID_TEXT)

_SHIP_TYPE_FIXED: dict[int, str] = {
    0: "Not available",
    30: "Fishing",
    31: "Towing",
    32: "Towing (length > 200 m or breadth > 25 m)",
    33: "Dredging or underwater operations",
    34: "Diving operations",
    35: "Military operations",
    36: "Sailing",
    37: "Pleasure craft",
    38: "Reserved",
    39: "Reserved",
    50: "Pilot vessel",
    51: "Search and rescue vessel",
    52: "Tug",
    53: "Port tender",
    54: "Anti-pollution equipment",
    55: "Law enforcement",
    56: "Spare (local vessel)",
    57: "Spare (local vessel)",
    58: "Medical transport",
    59: "Noncombatant ship (RR Resolution No. 18)",
}
_SHIP_TYPE_FAMILY: dict[int, str] = {
    2: "Wing in ground (WIG)",
    4: "High speed craft (HSC)",
    6: "Passenger",
    7: "Cargo",
    8: "Tanker",
    9: "Other type",
}
_SHIP_TYPE_DETAIL: dict[int, str] = {
    0: "",
    1: ", hazardous category A",
    2: ", hazardous category B",
    3: ", hazardous category C",
    4: ", hazardous category D",
    5: ", reserved",
    6: ", reserved",
    7: ", reserved",
    8: ", reserved",
    9: ", no additional information",
}


def _ship_type_table() -> dict[int, str]:
    table = dict(_SHIP_TYPE_FIXED)
    for code in range(1, 20):
        table[code] = "Reserved"
    for tens, family in _SHIP_TYPE_FAMILY.items():
        for unit, detail in _SHIP_TYPE_DETAIL.items():
            table[tens * 10 + unit] = family + detail
    # In the WIG family only categories A-D and "all ships" are defined; the rest are reserved.
    for code in range(25, 30):
        table[code] = "Wing in ground (WIG), reserved"
    for code in range(100, 200):
        table[code] = "Reserved for regional use"
    for code in range(200, 256):
        table[code] = "Reserved for future use"
    return table


#: Ship type code (0-255) -> text, per ITU-R M.1371.
SHIP_TYPES: dict[int, str] = _ship_type_table()


def mid_of(mmsi: int) -> int | None:
    """Return the MID embedded in ``mmsi``, or None for numbers that carry no country."""
    if 200_000_000 <= mmsi <= 799_999_999:  # ship station: MIDxxxxxx
        return mmsi // 1_000_000
    if 800_000_000 <= mmsi <= 899_999_999:  # handheld VHF: 8MIDxxxxx
        return (mmsi // 100_000) % 1000
    if 980_000_000 <= mmsi <= 999_999_999:  # craft of a parent ship 98MID, aid to navigation 99MID
        return (mmsi // 10_000) % 1000
    if 111_000_000 <= mmsi <= 111_999_999:  # SAR aircraft: 111MIDxxx
        return (mmsi // 1000) % 1000
    if 10_000_000 <= mmsi <= 99_999_999:  # group call: 0MIDxxxxx
        return mmsi // 100_000
    if 1_000_000 <= mmsi <= 9_999_999:  # coast station: 00MIDxxxx
        return mmsi // 10_000
    return None


def flag_of(mmsi: int) -> str | None:
    """Return the flag (country name) of ``mmsi`` from its MID, or None when unknown."""
    mid = mid_of(mmsi)
    entry = MID_COUNTRIES.get(mid) if mid is not None else None
    return entry[1] if entry else None


def mid_expr(mmsi: pl.Expr) -> pl.Expr:
    """Return an expression for the MID of an MMSI column (null when none), as :func:`mid_of`."""
    m = mmsi.cast(pl.Int64)
    return (
        pl.when(m.is_between(200_000_000, 799_999_999))
        .then(m // 1_000_000)
        .when(m.is_between(800_000_000, 899_999_999))
        .then((m // 100_000) % 1000)
        .when(m.is_between(980_000_000, 999_999_999))
        .then((m // 10_000) % 1000)
        .when(m.is_between(111_000_000, 111_999_999))
        .then((m // 1000) % 1000)
        .when(m.is_between(10_000_000, 99_999_999))
        .then(m // 100_000)
        .when(m.is_between(1_000_000, 9_999_999))
        .then(m // 10_000)
    )


def flag_expr(mmsi: pl.Expr) -> pl.Expr:
    """Return an expression for the flag (country name) of an MMSI column, as :func:`flag_of`."""
    mids = list(MID_COUNTRIES)
    names = [MID_COUNTRIES[mid][1] for mid in mids]
    return mid_expr(mmsi).replace_strict(mids, names, default=None, return_dtype=pl.String)


def ship_type_text(code: int | None) -> str | None:
    """Return the ITU-R M.1371 text of ship type ``code``, None when missing or out of range."""
    if code is None:
        return None
    return SHIP_TYPES.get(code)


def ship_type_expr(code: pl.Expr) -> pl.Expr:
    """Return an expression for the text of a ship type code column, as :func:`ship_type_text`."""
    codes = list(SHIP_TYPES)
    return code.cast(pl.Int64).replace_strict(
        codes, [SHIP_TYPES[c] for c in codes], default=None, return_dtype=pl.String
    )
