"""Language identification for IFEval: run-to-run agreement and speed, py3langid vs langdetect.

IFEval's reference checker calls ``langdetect.detect`` without seeding it, so a response's label
(and with it ``language:response_language``, ``change_case:english_capital`` and
``english_lowercase``) can change between processes. rlvr-envs uses ``py3langid`` instead. This
script classifies the same texts in several fresh processes with each library and reports how many
texts got more than one label, plus the time per text, measured in the same run.

    python benchmarks/ifeval_language_id.py [--texts 300] [--processes 5]

Needs ``langdetect`` (pip install langdetect) for the comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

# Short and mixed texts, where a sampling classifier is least stable: the texts IFEval responses
# are made of (titles, bullets, a sentence in another language, names, code).
FRAGMENTS = [
    "Sure, here it is.",
    "My answer is yes.",
    "P.S. See you soon!",
    "<<Summer Plans>>",
    "* Paris",
    "* Berlin",
    "Desayunamos en McDonald's hoy.",
    "Today we visit the Louvre.",
    "Merci beaucoup pour votre aide.",
    "Das ist gut.",
    "Ciao a tutti!",
    "Obrigado pela ajuda.",
    "Dziękuję bardzo.",
    "Kiitos paljon.",
    "Asante sana rafiki.",
    "def f(x): return x + 1",
    "SECTION 1",
    "OK",
    "The end.",
    "Hola, ¿qué tal?",
]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` seeded texts of one to three fragments."""
    rng = np.random.default_rng(seed)
    return [
        " ".join(
            FRAGMENTS[int(i)] for i in rng.choice(len(FRAGMENTS), size=int(rng.integers(1, 4)))
        )
        for _ in range(n)
    ]


def _labels_py3langid(texts: list[str]) -> list[str]:
    sys.path.insert(0, str(ROOT))
    from rlvr_envs.verifiers.ifeval.language import detect_language

    return [detect_language(t) or "none" for t in texts]


def _labels_langdetect(texts: list[str]) -> list[str]:
    import langdetect

    out = []
    for text in texts:
        try:
            out.append(langdetect.detect(text))  # unseeded, as IFEval's checker calls it
        except langdetect.LangDetectException:
            out.append("none")
    return out


LIBRARIES = {"py3langid": _labels_py3langid, "langdetect": _labels_langdetect}


def _child(library: str, n: int) -> None:
    texts = make_texts(n)
    LIBRARIES[library](["Loading the model is not part of the timing."])
    start = time.perf_counter()
    labels = LIBRARIES[library](texts)
    elapsed = time.perf_counter() - start
    print(json.dumps({"labels": labels, "seconds": elapsed}))


def _run(library: str, n: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", library, "--texts", str(n)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    return json.loads(completed.stdout)


def main() -> None:
    """Print agreement across processes and time per text for each library."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--child", choices=sorted(LIBRARIES))
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.texts)
        return
    results = {}
    for library in LIBRARIES:
        try:
            runs = [_run(library, args.texts) for _ in range(args.processes)]
        except subprocess.CalledProcessError as error:
            print(f"{library}: not available ({error.stderr.strip().splitlines()[-1]})")
            continue
        unstable = sum(len({run["labels"][i] for run in runs}) > 1 for i in range(args.texts))
        per_text_ms = 1000 * min(run["seconds"] for run in runs) / args.texts
        results[library] = (unstable, per_text_ms)
        print(
            f"{library:>10}: {unstable}/{args.texts} texts labelled differently across "
            f"{args.processes} processes; {per_text_ms:.3f} ms per text (best process)"
        )
    if len(results) == 2:
        ratio = results["langdetect"][1] / results["py3langid"][1]
        print(f"py3langid is {ratio:.1f}x the speed of langdetect on these texts")


if __name__ == "__main__":
    main()
