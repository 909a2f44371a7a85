"""Encyclopedia articles in German, Spanish and French, on their own hosts.

Real sentences in each language (facts, filler and the site's boilerplate labels) so that a
language identifier recognises the pages. Names stay as they are; vocabulary (occupations,
industries, landmark kinds, currency units) is translated through the lexicon, and numbers use
the language's digit grouping, so a foreign page's object strings differ from the English facts.
"""

from __future__ import annotations

import random

from stages.web.blocks import Heading, linkify, para
from stages.web.lexicon import CURRENCY_UNITS, FOREIGN_INDEX, INDUSTRIES, LANDMARKS, OCCUPATIONS
from stages.web.page import Hosts, Page
from stages.web.world import Entity, World

LEADS = {
    "de": {
        "person": "{name} ist ein {occupation} aus {country}.",
        "city": "{name} ist eine Stadt in {in_country}.",
        "country": "{name} ist ein Land auf dem Kontinent {world}.",
        "organisation": "{name} ist ein Unternehmen aus dem Bereich {industry}.",
    },
    "es": {
        "person": "{name} es un {occupation} de {country}.",
        "city": "{name} es una ciudad de {in_country}.",
        "country": "{name} es un país del continente de {world}.",
        "organisation": "{name} es una empresa del sector de {industry}.",
    },
    "fr": {
        "person": "{name} est un {occupation} originaire de {country}.",
        "city": "{name} est une ville de {in_country}.",
        "country": "{name} est un pays du continent {world}.",
        "organisation": "{name} est une entreprise dont le secteur d'activité est {industry}.",
    },
}

FACTS = {
    "de": {
        "born_in": ("{name} wurde in {born_in} geboren.", "Die Geburtsstadt von {name} ist {born_in}."),
        "birth_year": ("{name} wurde im Jahr {birth_year} geboren.", "Das Geburtsjahr von {name} ist {birth_year}."),
        "occupation": ("{name} arbeitet als {occupation}.", "Von Beruf ist {name} {occupation}."),
        "works_for": (
            "{name} arbeitet für das Unternehmen {works_for}.",
            "Der Arbeitgeber von {name} ist {works_for}.",
        ),
        "spouse": ("{name} ist mit {spouse} verheiratet.", "{name} und {spouse} sind ein Ehepaar."),
        "in_country": ("{name} liegt in {in_country}.", "Die Stadt {name} gehört zu {in_country}."),
        "founded_year": (
            "{name} wurde im Jahr {founded_year} gegründet.",
            "Die Gründung von {name} erfolgte im Jahr {founded_year}.",
        ),
        "population": ("{name} hat {population} Einwohner.", "In {name} leben {population} Menschen."),
        "river": ("{name} liegt am Fluss {river}.", "Der Fluss {river} fließt durch {name}."),
        "landmark": (
            "Das Wahrzeichen {landmark} ist die bekannteste Sehenswürdigkeit von {name}.",
            "Viele Besucher kommen nach {name}, um das Bauwerk {landmark} zu sehen.",
        ),
        "capital": ("Die Hauptstadt von {name} ist {capital}.", "{capital} ist die Hauptstadt von {name}."),
        "official_language": (
            "Die Amtssprache von {name} ist {official_language}.",
            "In {name} spricht man {official_language}.",
        ),
        "currency": ("Die Währung von {name} heißt {currency}.", "In {name} bezahlt man mit der Währung {currency}."),
        "founder": ("{name} wurde von {founder} gegründet.", "Der Gründer von {name} ist {founder}."),
        "industry": ("{name} ist im Bereich {industry} tätig.", "Das Kerngeschäft von {name} ist {industry}."),
        "headquartered_in": (
            "{name} hat seinen Sitz in {headquartered_in}.",
            "Der Hauptsitz von {name} befindet sich in {headquartered_in}.",
        ),
        "employees": ("{name} beschäftigt {employees} Mitarbeiter.", "Bei {name} arbeiten {employees} Menschen."),
    },
    "es": {
        "born_in": ("{name} nació en {born_in}.", "La ciudad natal de {name} es {born_in}."),
        "birth_year": ("{name} nació en el año {birth_year}.", "El año de nacimiento de {name} es {birth_year}."),
        "occupation": ("{name} trabaja como {occupation}.", "De profesión, {name} es {occupation}."),
        "works_for": ("{name} trabaja para la empresa {works_for}.", "La empresa {works_for} emplea a {name}."),
        "spouse": ("{name} y {spouse} están casados.", "El cónyuge de {name} es {spouse}."),
        "in_country": ("{name} se encuentra en {in_country}.", "La ciudad de {name} pertenece a {in_country}."),
        "founded_year": (
            "{name} fue fundada en el año {founded_year}.",
            "La fundación de {name} tuvo lugar en el año {founded_year}.",
        ),
        "population": ("{name} tiene {population} habitantes.", "En {name} viven {population} personas."),
        "river": ("{name} está situada a orillas del río {river}.", "El río {river} atraviesa {name}."),
        "landmark": (
            "El monumento más conocido de {name} es {landmark}.",
            "Muchos visitantes llegan a {name} para ver el monumento {landmark}.",
        ),
        "capital": ("La capital de {name} es {capital}.", "{capital} es la capital de {name}."),
        "official_language": (
            "El idioma oficial de {name} es el {official_language}.",
            "En {name} se habla {official_language}.",
        ),
        "currency": ("La moneda de {name} se llama {currency}.", "En {name} se paga con la moneda {currency}."),
        "founder": ("{name} fue fundada por {founder}.", "El fundador de {name} es {founder}."),
        "industry": ("{name} trabaja en el sector de {industry}.", "La actividad principal de {name} es {industry}."),
        "headquartered_in": (
            "{name} tiene su sede en {headquartered_in}.",
            "La sede central de {name} está en {headquartered_in}.",
        ),
        "employees": ("{name} tiene {employees} empleados.", "En {name} trabajan {employees} personas."),
    },
    "fr": {
        "born_in": ("{name} a vu le jour à {born_in}.", "La ville natale de {name} est {born_in}."),
        "birth_year": ("{name} a vu le jour en {birth_year}.", "L'année de naissance de {name} est {birth_year}."),
        "occupation": ("{name} exerce le métier de {occupation}.", "De profession, {name} est {occupation}."),
        "works_for": ("{name} travaille pour l'entreprise {works_for}.", "L'employeur de {name} est {works_for}."),
        "spouse": ("{name} et {spouse} sont mariés.", "Le conjoint de {name} s'appelle {spouse}."),
        "in_country": (
            "{name} se trouve dans le pays de {in_country}.",
            "La ville de {name} fait partie de {in_country}.",
        ),
        "founded_year": (
            "{name} a été fondée en {founded_year}.",
            "La fondation de {name} remonte à l'année {founded_year}.",
        ),
        "population": (
            "{name} compte {population} habitants.",
            "La population de {name} est de {population} habitants.",
        ),
        "river": ("{name} se trouve au bord de la rivière {river}.", "La rivière {river} traverse {name}."),
        "landmark": (
            "Le monument le plus connu de {name} est {landmark}.",
            "Beaucoup de visiteurs viennent à {name} pour voir le monument {landmark}.",
        ),
        "capital": ("La capitale de {name} est {capital}.", "{capital} est la capitale de {name}."),
        "official_language": (
            "La langue officielle de {name} est le {official_language}.",
            "À {name}, on parle le {official_language}.",
        ),
        "currency": (
            "La monnaie de {name} s'appelle {currency}.",
            "À {name}, on paie avec la monnaie nationale, appelée {currency}.",
        ),
        "founder": ("{name} a été fondée par {founder}.", "Le fondateur de {name} est {founder}."),
        "industry": (
            "Le secteur d'activité de {name} est {industry}.",
            "{name} exerce ses activités dans le secteur {industry}.",
        ),
        "headquartered_in": (
            "{name} a son siège à {headquartered_in}.",
            "Le siège de {name} se trouve à {headquartered_in}.",
        ),
        "employees": ("{name} emploie {employees} personnes.", "{name} compte {employees} salariés."),
    },
}

FILLER = {
    "de": (
        "Über {name} gibt es zahlreiche Berichte in Zeitungen und Büchern.",
        "Viele Menschen interessieren sich heute für die Geschichte von {name}.",
        "Die wichtigsten Informationen werden in den folgenden Abschnitten zusammengefasst.",
        "Einige Einzelheiten sind bis heute umstritten, die wesentlichen Tatsachen sind jedoch gut belegt.",
        "In den lokalen Archiven befinden sich Briefe, Fotografien und andere Dokumente.",
        "Besucher und Forscher stellen immer wieder Fragen zu {name}.",
        "Dieser Artikel ist eine Zusammenfassung und wird regelmäßig ergänzt.",
        "Wer mehr erfahren möchte, findet am Ende der Seite weitere Hinweise.",
        "In den letzten Jahren ist das Interesse an {name} deutlich gewachsen.",
        "Die Quellen stimmen in den wichtigsten Punkten überein, "
        "auch wenn sie sich in kleineren Details unterscheiden.",
        "Mehrere Ausstellungen haben sich bereits mit {name} beschäftigt.",
        "Die Bewohner der Region sprechen oft und gern über {name}.",
        "Auch in Schulen wird {name} gelegentlich als Beispiel genannt.",
        "Für viele Menschen ist {name} ein fester Bestandteil der eigenen Geschichte.",
        "Die Zeitungen der Region haben mehrfach und meist sehr freundlich über {name} berichtet.",
        "Es lohnt sich, sich etwas Zeit zu nehmen und die Geschichte in Ruhe zu lesen.",
    ),
    "es": (
        "Sobre {name} se han publicado numerosos artículos en periódicos y libros.",
        "Hoy en día, muchas personas se interesan por la historia de {name}.",
        "La información más importante se resume en las secciones siguientes.",
        "Algunos detalles todavía se discuten, pero los hechos principales están bien documentados.",
        "En los archivos locales se conservan cartas, fotografías y otros documentos.",
        "Los visitantes y los investigadores hacen a menudo preguntas sobre {name}.",
        "Este artículo es un resumen y se completa con regularidad.",
        "Quien quiera saber más encontrará otras referencias al final de la página.",
        "En los últimos años, el interés por {name} ha crecido de forma notable.",
        "Las fuentes coinciden en los puntos principales, aunque difieren en algunos detalles menores.",
        "Varias exposiciones se han dedicado ya a {name}.",
        "Los habitantes de la región hablan con frecuencia de {name}.",
        "En las escuelas también se menciona a veces {name} como ejemplo.",
        "Para muchas personas, {name} forma parte de su propia historia.",
        "Los periódicos de la región han hablado de {name} en muchas ocasiones y casi siempre con cariño.",
        "Vale la pena dedicar un poco de tiempo a leer esta historia con calma.",
    ),
    "fr": (
        "De nombreux articles de journaux et plusieurs livres ont été consacrés à {name}.",
        "Aujourd'hui, beaucoup de gens s'intéressent à l'histoire de {name}.",
        "Les informations les plus importantes sont résumées dans les sections suivantes.",
        "Certains détails sont encore discutés, mais les faits principaux sont bien établis.",
        "Les archives locales conservent des lettres, des photographies et d'autres documents.",
        "Les visiteurs et les chercheurs posent souvent des questions sur {name}.",
        "Cet article est un résumé qui est complété régulièrement.",
        "Les personnes qui veulent en savoir plus trouveront d'autres références à la fin de la page.",
        "Ces dernières années, l'intérêt pour {name} a nettement augmenté.",
        "Les sources sont d'accord sur l'essentiel, même si elles divergent sur quelques détails.",
        "Plusieurs expositions ont déjà été consacrées à {name}.",
        "Les habitants de la région parlent souvent de {name}.",
        "Dans les écoles aussi, on cite parfois {name} comme exemple.",
        "Pour beaucoup de gens, {name} fait partie de leur propre histoire.",
        "Les journaux de la région ont parlé de {name} à de nombreuses reprises, presque toujours avec sympathie.",
        "Il vaut la peine de prendre un peu de temps pour lire cette histoire tranquillement.",
    ),
}

HEADINGS = {
    "de": ("Überblick", "Geschichte", "Weitere Informationen"),
    "es": ("Resumen", "Historia", "Más información"),
    "fr": ("Aperçu", "Histoire", "Informations complémentaires"),
}

# The boilerplate of the foreign hosts, in their language.
LABELS = {
    "de": {
        "home": "Startseite",
        "about": "Über uns",
        "index": "Alle Artikel",
        "related": "Verwandte Artikel",
        "languages": "Andere Sprachen",
        "site": "{World}-Wiki auf Deutsch",
        "cookie": "Diese Website verwendet Cookies, um Ihnen das beste Erlebnis zu bieten.",
        "accept": "Alle akzeptieren",
        "rights": "Alle Rechte vorbehalten.",
        "note": "Der Text ist unter einer freien Lizenz verfügbar; zusätzliche Bedingungen können gelten.",
        "contact": "Kontakt",
        "cookies": "Cookie-Einstellungen",
        "privacy": "Datenschutz",
        "about_text": "Dieses Wiki sammelt Wissen über den Kontinent {World} und seine Menschen, "
        "Städte und Unternehmen. "
        "Alle Artikel werden von Freiwilligen geschrieben und regelmäßig überprüft.",
        "index_title": "Alle Artikel, Seite {n}",
        "index_text": "Diese Seite listet die Artikel dieses Wikis auf.",
        "welcome": "Willkommen im {World}-Wiki. Hier finden Sie Artikel über Personen, Orte und Unternehmen.",
    },
    "es": {
        "home": "Portada",
        "about": "Acerca de",
        "index": "Todos los artículos",
        "related": "Artículos relacionados",
        "languages": "Otros idiomas",
        "site": "Wiki de {World} en español",
        "cookie": "Este sitio utiliza cookies para ofrecerle la mejor experiencia posible.",
        "accept": "Aceptar todo",
        "rights": "Todos los derechos reservados.",
        "note": "El texto está disponible bajo una licencia libre; pueden aplicarse condiciones adicionales.",
        "contact": "Contacto",
        "cookies": "Configuración de cookies",
        "privacy": "Privacidad",
        "about_text": "Esta wiki reúne el conocimiento sobre el continente de {World} y sus personas, "
        "ciudades y empresas. "
        "Todos los artículos son escritos por voluntarios y se revisan con regularidad.",
        "index_title": "Todos los artículos, página {n}",
        "index_text": "Esta página enumera los artículos de esta wiki.",
        "welcome": "Bienvenido a la wiki de {World}. Aquí encontrará artículos sobre personas, lugares y empresas.",
    },
    "fr": {
        "home": "Accueil",
        "about": "À propos",
        "index": "Tous les articles",
        "related": "Articles liés",
        "languages": "Autres langues",
        "site": "Wiki de {World} en français",
        "cookie": "Ce site utilise des cookies pour vous offrir la meilleure expérience possible.",
        "accept": "Tout accepter",
        "rights": "Tous droits réservés.",
        "note": "Le texte est disponible sous une licence libre ; des conditions supplémentaires peuvent s'appliquer.",
        "contact": "Contact",
        "cookies": "Paramètres des cookies",
        "privacy": "Confidentialité",
        "about_text": "Ce wiki rassemble les connaissances sur le continent {World}, ses habitants, "
        "ses villes et ses entreprises. "
        "Tous les articles sont rédigés par des bénévoles et vérifiés régulièrement.",
        "index_title": "Tous les articles, page {n}",
        "index_text": "Cette page présente la liste des articles de ce wiki.",
        "welcome": "Bienvenue sur le wiki de {World}. "
        "Vous y trouverez des articles sur des personnes, des lieux et des entreprises.",
    },
}


def _number(display: str, lang: str) -> str:
    return display.replace(",", " " if lang == "fr" else ".")


def localized_values(entity: Entity, world: World, lang: str) -> dict[str, str]:
    i = FOREIGN_INDEX[lang]
    values = dict(entity.attrs)
    if "occupation" in values:
        values["occupation"] = OCCUPATIONS[values["occupation"]][i]
        city = world.entities[entity.refs["born_in"]]
        values["country"] = city.attrs["in_country"]
    if "industry" in values:
        values["industry"] = INDUSTRIES[values["industry"]][0][i]
    for key in ("population", "employees"):
        if key in values:
            values[key] = _number(values[key], lang)
    if entity.kind == "city":
        name, kind = entity.info["landmark_name"], LANDMARKS[entity.info["landmark_kind"]][i]
        values["landmark"] = f"{name}-{kind}" if lang == "de" else f"{kind} {name}"
        values["river"] = entity.info["river_name"]
    if entity.kind == "country":
        stem = entity.info["stem"]
        values["official_language"] = {"de": stem + "isch", "es": stem.lower() + "o", "fr": stem.lower() + "ien"}[lang]
        values["currency"] = CURRENCY_UNITS[entity.info["unit"]][i]
    return values


def foreign_article(
    entity: Entity, world: World, hosts: Hosts, lang: str, rng: random.Random, target_words: int, has_article: set[str]
) -> Page:
    """`has_article`: entity ids with an article in this language (the only ones linked inline)."""
    values = localized_values(entity, world, lang)
    values["world"] = hosts.world.capitalize()
    values["name"] = entity.name
    lead = [LEADS[lang][entity.kind].format(**values)]
    facts = [rng.choice(FACTS[lang][f.relation]).format(**values) for f in world.facts_of(entity.id)]
    half = (len(facts) + 1) // 2
    bodies = [lead, facts[:half], facts[half:]]
    filler = [f.format(name=entity.name) for f in FILLER[lang]]
    rng.shuffle(filler)
    i = 0
    while sum(len(s.split()) for b in bodies for s in b) < target_words and filler:
        bodies[i % 3].append(filler.pop())
        i += 1
    links = {
        world.entities[oid].name: hosts.article_url(world.entities[oid].slug, lang)
        for oid in entity.refs.values()
        if oid in has_article
    }
    blocks = [para(*linkify(" ".join(lead), links))]
    for heading, body in zip(HEADINGS[lang][1:], bodies[1:]):
        if body:
            blocks += [Heading(heading), para(*linkify(" ".join(body), links))]
    return Page(
        host=hosts.foreign(lang),
        path=f"/wiki/{entity.slug}.html",
        kind="foreign",
        style=f"encyclopedia_{entity.kind}_{lang}",
        lang=lang,
        title=entity.name,
        blocks=blocks,
        entity_ids=[entity.id, *entity.refs.values()],
        section="articles",
    )
