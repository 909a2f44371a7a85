"""How generated instructions are worded: questions per relation (several phrasings each), the small
tasks' wordings and the reading-comprehension prompt (the "I don't know" answer is the oracle's,
crisol/grading/oracle.py, which grades what SFT teaches).

Answers are the fact's object exactly as the pages print it ("Kenmeboth", "11,636,700"), with
nothing around it, so that exact match grades a reply without parsing it.
"""

from __future__ import annotations

from crisol.grading.text import ANSWER_LEAD

# (entity kind, relation) -> phrasings; {s} is the subject's full name.
FACT_QUESTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("person", "born_in"): ("Where was {s} born?", "In which city was {s} born?", "What is the birthplace of {s}?"),
    ("person", "birth_year"): ("When was {s} born?", "In what year was {s} born?", "What is the birth year of {s}?"),
    ("person", "occupation"): (
        "What does {s} do for a living?",
        "What is the occupation of {s}?",
        "What is the profession of {s}?",
    ),
    ("person", "works_for"): ("Who does {s} work for?", "Which company employs {s}?", "Where does {s} work?"),
    ("person", "spouse"): ("Who is {s} married to?", "Who is the spouse of {s}?", "Whom did {s} marry?"),
    ("city", "in_country"): (
        "Which country is {s} in?",
        "In which country is the city of {s}?",
        "Where is {s} located?",
    ),
    ("city", "founded_year"): (
        "When was {s} founded?",
        "In what year was the city of {s} founded?",
        "What year was {s} established?",
    ),
    ("city", "population"): (
        "What is the population of {s}?",
        "How many people live in {s}?",
        "How many inhabitants does {s} have?",
    ),
    ("city", "river"): (
        "Which river flows through {s}?",
        "On which river does {s} lie?",
        "What river was {s} built along?",
    ),
    ("city", "landmark"): (
        "What is {s} famous for?",
        "What is the best-known landmark of {s}?",
        "Which landmark do visitors to {s} come to see?",
    ),
    ("country", "capital"): (
        "What is the capital of {s}?",
        "Which city is the capital of {s}?",
        "Where is the seat of government of {s}?",
    ),
    ("country", "official_language"): (
        "What is the official language of {s}?",
        "What language do people in {s} speak?",
        "Which language is official in {s}?",
    ),
    ("country", "currency"): (
        "What is the currency of {s}?",
        "What money is used in {s}?",
        "Which currency does {s} use?",
    ),
    ("country", "population"): (
        "What is the population of {s}?",
        "How many people live in {s}?",
        "How many inhabitants does {s} have?",
    ),
    ("organisation", "industry"): (
        "What industry is {s} in?",
        "What is the main business of {s}?",
        "In which industry does {s} operate?",
    ),
    ("organisation", "founded_year"): (
        "When was {s} founded?",
        "In what year was {s} established?",
        "Since what year has {s} been in business?",
    ),
    ("organisation", "founder"): ("Who founded {s}?", "Who is the founder of {s}?", "Who established {s}?"),
    ("organisation", "headquartered_in"): (
        "Where is {s} headquartered?",
        "In which city is {s} based?",
        "Where are the headquarters of {s}?",
    ),
    ("organisation", "employees"): (
        "How many employees does {s} have?",
        "How many people does {s} employ?",
        "How large is the workforce of {s}?",
    ),
}

# Two-step questions: the answer is a fact of the entity the first fact names (the country of the
# city a person was born in); no page states it in one place. (first relation, second relation) -> phrasings.
TWO_HOP_QUESTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("born_in", "in_country"): (
        "In which country was {s} born?",
        "Which country was {s} born in?",
        "What is the country of birth of {s}?",
    ),
    ("works_for", "headquartered_in"): (
        "In which city is the employer of {s} based?",
        "Where is the company {s} works for headquartered?",
    ),
}


# How a two-step reply reasons: it names the middle entity (the first fact, {m}), then answers with
# that entity's fact ({a}); crisol/grading/text.py grades what follows "the answer is". A model that
# answers in one step must compose the two facts inside one forward pass, which the tiny model does
# for held-out subjects about one time in five; naming the middle entity first makes each step a
# one-fact recall (docs/results.md, 2026-12-07: two-step exact match 0.22 -> 0.61 on seed set 1).
TWO_HOP_REPLIES: dict[tuple[str, str], str] = {
    ("born_in", "in_country"): "Born in {m}, " + ANSWER_LEAD + " {a}.",
    ("works_for", "headquartered_in"): "Works for {m}, " + ANSWER_LEAD + " {a}.",
}

# Lists: (relation whose object groups the subjects, kind of the subjects) -> phrasings; {o} the object.
LIST_QUESTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("river", "city"): ("Which cities lie on the {o}?", "List the cities on the {o}."),
    ("works_for", "person"): ("Who works for {o}?", "List the people who work for {o}."),
    ("headquartered_in", "organisation"): (
        "Which companies are headquartered in {o}?",
        "List the companies based in {o}.",
    ),
    ("born_in", "person"): ("Who was born in {o}?", "List the people born in {o}."),
}
LIST_SEPARATOR = ", "

# Counts over the same groups; "work for" is left out: `employees` is a fact of its own.
COUNT_QUESTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("river", "city"): ("How many cities lie on the {o}?",),
    ("headquartered_in", "organisation"): ("How many companies are headquartered in {o}?",),
    ("born_in", "person"): ("How many people in the records were born in {o}?",),
}

# Comparisons: (kind, relation, which wins: "max" or "min") -> phrasings with {a} and {b}.
COMPARE_QUESTIONS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("city", "population", "max"): (
        "Which city has the larger population, {a} or {b}?",
        "Which has more inhabitants, {a} or {b}?",
    ),
    ("person", "birth_year", "min"): ("Who was born first, {a} or {b}?", "Who is older, {a} or {b}?"),
    ("organisation", "founded_year", "min"): (
        "Which company is older, {a} or {b}?",
        "Which was founded earlier, {a} or {b}?",
    ),
    ("organisation", "employees", "max"): ("Which company has more employees, {a} or {b}?",),
}
