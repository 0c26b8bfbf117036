"""Container names: Docker's validation, and adjective_scientist names when none is given."""

from __future__ import annotations

import random
import re

from darse.errors import InvalidArgument

_VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_LEFT = ["admiring", "agitated", "amazing", "awesome", "blissful", "bold", "brave", "charming",
         "clever", "compassionate", "confident", "cool", "dazzling", "determined", "eager",
         "ecstatic", "elegant", "epic", "festive", "focused", "friendly", "gallant", "gifted",
         "happy", "hopeful", "jolly", "keen", "kind", "laughing", "lucid", "magical", "modest",
         "nice", "nostalgic", "optimistic", "peaceful", "practical", "quirky", "relaxed",
         "serene", "sharp", "stoic", "sweet", "tender", "trusting", "vibrant", "wizardly",
         "youthful", "zealous"]
_RIGHT = ["agnesi", "babbage", "bardeen", "bohr", "carson", "cerf", "curie", "darwin",
          "dijkstra", "einstein", "euler", "fermat", "feynman", "galileo", "germain",
          "goldwasser", "hamilton", "hopper", "hypatia", "johnson", "kepler", "knuth",
          "lamarr", "lovelace", "margulis", "meitner", "mirzakhani", "newton", "noether",
          "pascal", "perlman", "poincare", "ritchie", "shannon", "swartz", "tesla",
          "thompson", "torvalds", "turing", "wozniak", "wright"]


def validate(name: str) -> str:
    """The name without its leading '/', or Docker's error."""
    if not _VALID.match(name):
        raise InvalidArgument(f"Invalid container name ({name}), only [a-zA-Z0-9]"
                              "[a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def generate(taken: set[str]) -> str:
    for _ in range(100):
        name = f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}"
        if name not in taken:
            return name
    return f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}{random.randint(1, 9999)}"
