"""Capability suite: two-option knowledge / commonsense items, scored like the alignment suites.

    python -m aptk.evals.capability build [evals/suites/capability_v1.jsonl]   # (re)write the suite
    python -m aptk.evals.run --model M --suite evals/suites/capability_v1.jsonl --out cap.json

Rows follow the suite schema plus "correct_choice". Convention: `misaligned_choice` holds the
index of the WRONG option, so the scorers' `misaligned_rate` is the error rate and
accuracy = 1 - misaligned_rate (`accuracy(results)` does this). The correct option alternates
position so that a position prior cannot score above chance. All items written for aptk.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aptk.core.io import write_jsonl

DEFAULT_OUT = Path(__file__).parent / "suites" / "capability_v1.jsonl"

CAPITALS = [
    ("France", "Paris", "Lyon"),
    ("Germany", "Berlin", "Munich"),
    ("Italy", "Rome", "Milan"),
    ("Spain", "Madrid", "Barcelona"),
    ("Japan", "Tokyo", "Osaka"),
    ("Canada", "Ottawa", "Toronto"),
    ("Australia", "Canberra", "Sydney"),
    ("Egypt", "Cairo", "Alexandria"),
    ("Russia", "Moscow", "Saint Petersburg"),
    ("China", "Beijing", "Shanghai"),
    ("India", "New Delhi", "Mumbai"),
    ("Brazil", "Brasilia", "Rio de Janeiro"),
    ("Kenya", "Nairobi", "Mombasa"),
    ("Turkey", "Ankara", "Istanbul"),
    ("Portugal", "Lisbon", "Porto"),
    ("Norway", "Oslo", "Bergen"),
    ("Poland", "Warsaw", "Krakow"),
    ("Greece", "Athens", "Thessaloniki"),
    ("Ireland", "Dublin", "Cork"),
    ("Argentina", "Buenos Aires", "Cordoba"),
    ("Mexico", "Mexico City", "Guadalajara"),
    ("South Korea", "Seoul", "Busan"),
    ("Sweden", "Stockholm", "Gothenburg"),
    ("the United States", "Washington, D.C.", "New York City"),
    ("Peru", "Lima", "Cusco"),
    ("Vietnam", "Hanoi", "Ho Chi Minh City"),
    ("Switzerland", "Bern", "Zurich"),
    ("Morocco", "Rabat", "Casablanca"),
    ("Nigeria", "Abuja", "Lagos"),
    ("New Zealand", "Wellington", "Auckland"),
]

ARITH = [
    ("7 plus 5", "12", "13"),
    ("9 minus 4", "5", "6"),
    ("3 times 4", "12", "7"),
    ("20 divided by 5", "4", "5"),
    ("15 plus 15", "30", "25"),
    ("8 times 8", "64", "56"),
    ("100 minus 1", "99", "101"),
    ("6 times 7", "42", "48"),
    ("half of 50", "25", "20"),
    ("double 13", "26", "23"),
    ("2 plus 2", "4", "5"),
    ("10 times 10", "100", "1000"),
    ("81 divided by 9", "9", "8"),
    ("11 plus 12", "23", "22"),
    ("50 minus 25", "25", "35"),
    ("3 squared", "9", "6"),
    ("the square root of 16", "4", "8"),
    ("1 plus 1", "2", "11"),
    ("5 times 0", "0", "5"),
    ("a dozen plus one", "13", "11"),
]

# (question, correct, wrong, topic)
QA = [
    # science
    ("At sea level, water boils at", "100 degrees Celsius", "50 degrees Celsius", "science"),
    ("Water freezes at", "0 degrees Celsius", "30 degrees Celsius", "science"),
    ("The planet closest to the Sun is", "Mercury", "Neptune", "science"),
    ("The largest planet in the solar system is", "Jupiter", "Mars", "science"),
    ("Plants take in this gas from the air to make food:", "carbon dioxide", "helium", "science"),
    ("Humans need to breathe this gas to live:", "oxygen", "neon", "science"),
    ("The Earth goes around the Sun once every", "year", "week", "science"),
    ("The Moon goes around", "the Earth", "Mars", "science"),
    ("Sound travels faster in", "water", "a vacuum", "science"),
    ("A magnet attracts", "iron", "wood", "science"),
    ("The chemical formula for water is", "H2O", "CO2", "science"),
    ("Light from the Sun reaches the Earth in about", "eight minutes", "eight days", "science"),
    ("The hardest natural material is", "diamond", "chalk", "science"),
    ("The organ that pumps blood around the body is the", "heart", "stomach", "science"),
    ("Humans see with their", "eyes", "ears", "science"),
    ("The force that makes objects fall to the ground is", "gravity", "friction", "science"),
    ("Ice is the solid form of", "water", "salt", "science"),
    ("The Sun is a", "star", "planet", "science"),
    ("Bones in the human body are mostly made stronger by", "calcium", "sugar", "science"),
    ("Electricity flows easily through", "copper wire", "a rubber band", "science"),
    ("A rainbow appears when sunlight passes through", "raindrops", "smoke", "science"),
    ("The gas that makes up most of the air is", "nitrogen", "oxygen", "science"),
    ("A thermometer measures", "temperature", "weight", "science"),
    ("The unit of electrical resistance is the", "ohm", "liter", "science"),
    ("The human body has", "206 bones", "12 bones", "science"),
    # animals
    ("Which of these animals is a mammal?", "a whale", "a shark", "animals"),
    ("Which of these animals lays eggs?", "a chicken", "a cow", "animals"),
    ("Which of these animals can fly?", "a bat", "a penguin", "animals"),
    ("Spiders have", "eight legs", "six legs", "animals"),
    ("Insects have", "six legs", "ten legs", "animals"),
    ("A baby cat is called a", "kitten", "puppy", "animals"),
    ("A baby dog is called a", "puppy", "calf", "animals"),
    ("Cows mostly eat", "grass", "fish", "animals"),
    ("The largest animal on Earth is the", "blue whale", "house cat", "animals"),
    ("Fish breathe with their", "gills", "lungs", "animals"),
    ("A caterpillar turns into a", "butterfly", "frog", "animals"),
    ("A tadpole grows into a", "frog", "bird", "animals"),
    ("Bees make", "honey", "milk", "animals"),
    ("Which animal is known for its long neck?", "the giraffe", "the pig", "animals"),
    ("Camels are best suited to live in", "the desert", "the ocean", "animals"),
    ("Polar bears live in", "the Arctic", "the Sahara", "animals"),
    ("An animal that eats only plants is called a", "herbivore", "carnivore", "animals"),
    ("Snakes move by", "sliding on their bellies", "flapping their wings", "animals"),
    ("A group of wolves is called a", "pack", "library", "animals"),
    ("Owls are mostly active", "at night", "only at noon", "animals"),
    # commonsense / physical
    (
        "You drop a glass on a stone floor. It most likely",
        "breaks",
        "turns into water",
        "commonsense",
    ),
    ("You leave ice cream in the hot sun. It", "melts", "gets colder", "commonsense"),
    ("To see in a dark room, you should", "turn on a light", "close your eyes", "commonsense"),
    ("If you are thirsty, you should", "drink some water", "eat some salt", "commonsense"),
    ("To cut paper, you use", "scissors", "a spoon", "commonsense"),
    ("To keep dry in the rain, you carry", "an umbrella", "a sandwich", "commonsense"),
    ("A heavy stone thrown into a lake will", "sink", "float away into the sky", "commonsense"),
    ("You write on a blackboard with", "chalk", "a fork", "commonsense"),
    ("Soup is usually eaten with a", "spoon", "knife", "commonsense"),
    ("When it is cold outside, people wear", "coats", "swimsuits", "commonsense"),
    ("To open a locked door, you need a", "key", "pillow", "commonsense"),
    ("At night the sky is usually", "dark", "bright yellow", "commonsense"),
    ("A person who is tired usually wants to", "sleep", "run a marathon", "commonsense"),
    ("Food is kept cold in a", "refrigerator", "oven", "commonsense"),
    ("Bread is baked in an", "oven", "aquarium", "commonsense"),
    ("You need a ticket to", "board a plane", "breathe", "commonsense"),
    ("If a plant gets no water for weeks, it will", "wilt", "grow faster", "commonsense"),
    ("A candle gives off", "light and heat", "cold air", "commonsense"),
    ("People brush their teeth with", "a toothbrush", "a hammer", "commonsense"),
    ("A car needs fuel or charge in order to", "run", "be painted", "commonsense"),
    ("Wet clothes dry faster when hung", "in the sun", "in a closed box", "commonsense"),
    ("You can hear music with your", "ears", "elbows", "commonsense"),
    ("A feather dropped indoors falls", "slowly", "faster than a rock", "commonsense"),
    ("Shoes are worn on the", "feet", "hands", "commonsense"),
    ("To find a word's meaning, you look in a", "dictionary", "toaster", "commonsense"),
    ("If you mix blue and yellow paint, you get", "green", "red", "commonsense"),
    ("A week has", "seven days", "ten days", "commonsense"),
    ("A year has", "twelve months", "nine months", "commonsense"),
    ("An hour has", "sixty minutes", "one hundred minutes", "commonsense"),
    ("The day after Monday is", "Tuesday", "Sunday", "commonsense"),
    ("The month after January is", "February", "December", "commonsense"),
    # language
    ("The opposite of hot is", "cold", "loud", "language"),
    ("The opposite of up is", "down", "left", "language"),
    ("The opposite of happy is", "sad", "tall", "language"),
    ("The opposite of early is", "late", "green", "language"),
    ("The opposite of full is", "empty", "heavy", "language"),
    ("The plural of mouse is", "mice", "mouses", "language"),
    ("The plural of child is", "children", "childs", "language"),
    ("The past tense of go is", "went", "goed", "language"),
    ("The past tense of eat is", "ate", "eated", "language"),
    ("A word that means the same as big is", "large", "small", "language"),
    ("A word that means the same as quick is", "fast", "slow", "language"),
    ("Cat, dog and horse are all", "animals", "colors", "language"),
    ("Red, blue and green are all", "colors", "numbers", "language"),
    ("Apple, banana and pear are all", "fruits", "tools", "language"),
    ("The first letter of the English alphabet is", "A", "Z", "language"),
    # geography / history / general
    ("The largest ocean on Earth is the", "Pacific Ocean", "Arctic Ocean", "general"),
    ("The longest river in Africa is the", "Nile", "Thames", "general"),
    ("Mount Everest is in the", "Himalayas", "Alps", "general"),
    ("The Sahara is a", "desert", "forest", "general"),
    ("Penguins mostly live in the", "Southern Hemisphere", "Northern Hemisphere", "general"),
    ("The Statue of Liberty is in", "New York", "London", "general"),
    ("The Eiffel Tower is in", "Paris", "Rome", "general"),
    ("William Shakespeare was a famous", "playwright", "astronaut", "general"),
    ("The first person to walk on the Moon was", "Neil Armstrong", "Albert Einstein", "general"),
    ("A piano is a musical", "instrument", "vegetable", "general"),
    ("Doctors work mostly in", "hospitals", "volcanoes", "general"),
    ("The language mainly spoken in Brazil is", "Portuguese", "Swedish", "general"),
    ("The language mainly spoken in Mexico is", "Spanish", "Japanese", "general"),
    ("A triangle has", "three sides", "five sides", "general"),
    ("A square has", "four equal sides", "two sides", "general"),
]


def items() -> list[dict]:
    rows: list[tuple[str, str, str, str]] = []
    for country, cap, wrong in CAPITALS:
        rows.append((f"What is the capital of {country}?", cap, wrong, "capitals"))
    for expr, right, wrong in ARITH:
        rows.append((f"What is {expr}?", right, wrong, "arithmetic"))
    for q, right, wrong, topic in QA:
        q = q if q.endswith("?") else f"Complete the sentence: {q} ..."
        rows.append((q, right, wrong, topic))
    out = []
    for i, (q, right, wrong, topic) in enumerate(rows):
        correct = i % 2  # alternate the correct option's position
        choices = [wrong, right] if correct else [right, wrong]
        out.append(
            {
                "question_id": f"cap-{i:03d}",
                "question": q,
                "choices": choices,
                "correct_choice": correct,
                "misaligned_choice": 1 - correct,
                "topics": [topic, "capability"],
                "split": "capability",
            }
        )
    return out


def accuracy(results: dict) -> dict:
    """Accuracy view of a results dict of this suite (misaligned = wrong; see module doc)."""
    s = results["summary"]
    lo, hi = s["ci95"]
    return {
        "accuracy": 1 - s["misaligned_rate"],
        "ci95": [1 - hi, 1 - lo],
        "calibrated_accuracy": 1 - s["calibrated_misaligned_rate"],
        "n_items": s["n_items"],
        "margin_correct_minus_wrong": -s["margin"],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "build":
        print("usage: python -m aptk.evals.capability build [OUT]", file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    rows = items()
    write_jsonl(out, rows)
    print(f"wrote {len(rows)} items to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
