"""Closed vocabularies of the fictional world, with their German, Spanish and French forms.

Kept apart from the templates so that a fact's object (an English display string such as
"engineer") maps to one word per language, and so that relation values come from a fixed set
that later stages (QA generation) can enumerate as distractors.
"""

from __future__ import annotations

# occupation -> (de, es, fr)
OCCUPATIONS: dict[str, tuple[str, str, str]] = {
    "engineer": ("Ingenieur", "ingeniero", "ingénieur"),
    "painter": ("Maler", "pintor", "peintre"),
    "physician": ("Arzt", "médico", "médecin"),
    "architect": ("Architekt", "arquitecto", "architecte"),
    "novelist": ("Schriftsteller", "novelista", "romancier"),
    "botanist": ("Botaniker", "botánico", "botaniste"),
    "journalist": ("Journalist", "periodista", "journaliste"),
    "composer": ("Komponist", "compositor", "compositeur"),
    "historian": ("Historiker", "historiador", "historien"),
    "chemist": ("Chemiker", "químico", "chimiste"),
    "lawyer": ("Anwalt", "abogado", "avocat"),
    "teacher": ("Lehrer", "profesor", "professeur"),
    "photographer": ("Fotograf", "fotógrafo", "photographe"),
    "economist": ("Ökonom", "economista", "économiste"),
    "sculptor": ("Bildhauer", "escultor", "sculpteur"),
    "astronomer": ("Astronom", "astrónomo", "astronome"),
    "pilot": ("Pilot", "piloto", "pilote"),
    "accountant": ("Buchhalter", "contable", "comptable"),
    "mathematician": ("Mathematiker", "matemático", "mathématicien"),
    "violinist": ("Geiger", "violinista", "violoniste"),
}

# industry -> ((de, es, fr), English name suffixes of companies in it)
INDUSTRIES: dict[str, tuple[tuple[str, str, str], tuple[str, ...]]] = {
    "shipbuilding": (("Schiffbau", "construcción naval", "construction navale"), ("Shipyards", "Marine Works")),
    "textiles": (("Textilindustrie", "industria textil", "industrie textile"), ("Textiles", "Weaving Mills")),
    "publishing": (("Verlagswesen", "sector editorial", "édition"), ("Press", "Publishing House")),
    "banking": (("Bankwesen", "banca", "banque"), ("Bank", "Savings Union")),
    "brewing": (("Brauwesen", "industria cervecera", "brasserie"), ("Brewery", "Breweries")),
    "software": (("Softwareentwicklung", "desarrollo de software", "logiciel"), ("Systems", "Software")),
    "railways": (("Eisenbahnwesen", "ferrocarriles", "chemins de fer"), ("Railway Company", "Rail Lines")),
    "pharmaceuticals": (
        ("Pharmaindustrie", "industria farmacéutica", "industrie pharmaceutique"),
        ("Pharmaceuticals", "Laboratories"),
    ),
    "mining": (("Bergbau", "minería", "exploitation minière"), ("Mining Company", "Mines")),
    "glassmaking": (("Glasherstellung", "fabricación de vidrio", "verrerie"), ("Glassworks", "Glass Company")),
    "aviation": (("Luftfahrt", "aviación", "aéronautique"), ("Aircraft Works", "Airways")),
    "insurance": (("Versicherungswesen", "seguros", "assurance"), ("Insurance", "Mutual Assurance")),
}

# landmark kind -> (de, es, fr); a landmark is "<Name> <Kind>" in English.
LANDMARKS: dict[str, tuple[str, str, str]] = {
    "Tower": ("Turm", "Torre", "Tour"),
    "Cathedral": ("Kathedrale", "Catedral", "Cathédrale"),
    "Bridge": ("Brücke", "Puente", "Pont"),
    "Palace": ("Palast", "Palacio", "Palais"),
    "Lighthouse": ("Leuchtturm", "Faro", "Phare"),
    "Observatory": ("Sternwarte", "Observatorio", "Observatoire"),
    "Gate": ("Tor", "Puerta", "Porte"),
    "Opera House": ("Oper", "Teatro de la Ópera", "Opéra"),
    "Abbey": ("Abtei", "Abadía", "Abbaye"),
    "Fortress": ("Festung", "Fortaleza", "Forteresse"),
    "Market Hall": ("Markthalle", "Mercado", "Halle"),
    "Clock Tower": ("Uhrturm", "Torre del Reloj", "Tour de l'Horloge"),
}

# currency unit -> (de, es, fr); a currency is "<Country adjective> <unit>" in English.
CURRENCY_UNITS: dict[str, tuple[str, str, str]] = {
    "crown": ("Krone", "corona", "couronne"),
    "mark": ("Mark", "marco", "mark"),
    "florin": ("Gulden", "florín", "florin"),
    "thaler": ("Taler", "tálero", "thaler"),
    "ducat": ("Dukat", "ducado", "ducat"),
    "shilling": ("Schilling", "chelín", "shilling"),
}

FOREIGN_INDEX = {"de": 0, "es": 1, "fr": 2}


def a_or_an(phrase: str) -> str:
    """English indefinite article for a phrase ('an engineer', 'a painter')."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase
