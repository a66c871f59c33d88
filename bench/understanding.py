"""Understanding free text: accuracy on the labelled sets, crisis recall, false alarms, timing.

    .venv/bin/python bench/understanding.py            # the table, and timing over every message
    .venv/bin/python bench/understanding.py --misses   # also list what each intent got wrong

Accuracy is per intent and language, on the development split (``testkit/understanding/dev_*``,
tuned on) and the held-out split (``heldout_*``, only measured). Each message is read twice: in
a conversation in its own language (at the menu) and as a first message (the default language,
since nothing is known yet). Timing is ``Understander.understand`` per message (median, p99) and
its share of a whole engine turn on the same free-text messages. Figures are reported, never
enforced (the tests hold the accuracy line).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.domain import Channel, Inbound  # noqa: E402
from bot.service import load_content  # noqa: E402
from testkit.understanding_sets import LANGUAGES, SPLITS, crisis_recall, false_alarms, labelled, not_crisis, score  # noqa: E402


_NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the messages each intent got wrong")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    content = load_content(ROOT)
    engine = content.engines["main"]
    understander = engine.understander
    print(f"content loaded (understanding built) in {time.perf_counter() - started:.2f} s", flush=True)

    sets = {(split, language): labelled(split, language) for split in SPLITS for language in LANGUAGES}
    results = {key: score(understander, messages) for key, messages in sets.items()}
    print_accuracy(understander, sets, results)
    print_crisis(understander, sets)
    if args.misses:
        print_misses(results)
    print_timing(engine, [m.text for messages in sets.values() for m in messages])
    with open("/proc/self/status") as status:
        rss = next(line for line in status if line.startswith("VmRSS:")).split()[1]
    print(f"this process after loading the content and running every message: {int(rss) // 1024} MB resident")
    return 0


def print_accuracy(understander, sets: dict, results: dict) -> None:
    """Per intent and set: read at the menu in the message's language, and (in brackets) as a
    first message in the default language."""
    intents = sorted({m.intent for messages in sets.values() for m in messages})
    first = {key: score(understander, messages, understander.default) for key, messages in sets.items()}
    header = "| intent | " + " | ".join(f"{language} {split}" for split in SPLITS for language in LANGUAGES) + " |"
    print("\nAccuracy, read at the menu in the message's language (first message, default language, in brackets)\n")
    print(header)
    print("|---|" + "---:|" * (len(SPLITS) * len(LANGUAGES)))
    for intent in [*intents, "all"]:
        cells = []
        for split in SPLITS:
            for language in LANGUAGES:
                s, f = results[split, language].get(intent), first[split, language].get(intent)
                cells.append(f"{s.accuracy:.0%} ({f.accuracy:.0%}) n={s.total}" if s else "-")
        print(f"| {intent} | " + " | ".join(cells) + " |")


def print_crisis(understander, sets: dict) -> None:
    """Crisis recall per set (also read in the other language's conversation), false alarms on
    the ``not_crisis`` messages, and every message either got wrong."""
    print("\nCrisis recall (a crisis message gets 911 or 988) and false alarms (ordinary messages that get it)\n")
    for split in SPLITS:
        for language in LANGUAGES:
            recall = crisis_recall(understander, sets[split, language])
            other = crisis_recall(understander, sets[split, language], "es" if language == "en" else "en")
            alarms = false_alarms(understander, not_crisis(split, language), language)
            print(
                f"{language} {split}: recall {recall.right}/{recall.total} ({recall.accuracy:.1%}), "
                f"in the other language's conversation {other.right}/{other.total}; "
                f"false alarms {alarms.right}/{alarms.total} ({alarms.right / alarms.total:.1%})"
            )
            for text, got in (*recall.missed, *alarms.missed):
                print(f"    {got}: {text!r}")


def print_misses(results: dict) -> None:
    for key, scores in results.items():
        for intent, s in sorted(scores.items()):
            for text, got in s.missed:
                print(f"  {key[0]} {key[1]} {intent} -> {got}: {text!r}")


def print_timing(engine, texts: list[str]) -> None:
    """``understand`` alone, then a whole engine turn at the menu, on every labelled message."""
    understander = engine.understander
    for text in texts:  # warm the word caches as a running process would be
        understander.understand(text, "en")
    classify, turns = [], []
    menu = None
    for text in ("hi", "1", "1"):
        menu = engine.resume(menu, Inbound(Channel.SMS, "+15550000000", text), _NOW).session
    for text in texts:
        t0 = time.perf_counter_ns()
        understander.understand(text, "en")
        t1 = time.perf_counter_ns()
        engine.resume(menu, Inbound(Channel.SMS, "+15550000000", text), _NOW)
        t2 = time.perf_counter_ns()
        classify.append((t1 - t0) / 1000)
        turns.append((t2 - t1) / 1000)
    print(
        f"\nTiming over {len(texts)} messages: understand median {statistics.median(classify):.0f} µs, "
        f"p99 {_percentile(classify, 0.99):.0f} µs; a whole engine turn on the same messages median "
        f"{statistics.median(turns):.0f} µs, p99 {_percentile(turns, 0.99):.0f} µs "
        f"(understanding is {statistics.median(classify) / statistics.median(turns):.0%} of the engine turn)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
