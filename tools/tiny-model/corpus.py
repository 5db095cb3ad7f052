#!/usr/bin/env python3
"""Builds the training corpus of Birkhoff's default model from public-domain English texts
that Debian packages ship, and chat dialogues made from them.

  tools/tiny-model/corpus.py OUT.jsonl

Sources (installed with apt-get when missing):
  bible-kjv-text  the King James Version of the Bible (1611; copyright expired), read
                  through the `bible` program of bible-kjv
  dict-devil      Ambrose Bierce's The Devil's Dictionary (1911; public domain)
  dict-jargon     The Jargon File 4.4.7 (public domain)

Each line of OUT is one document: {"kind": "text"|"chat", "split": "train"|"heldout",
"text": ...}. Texts are a Bible chapter (one verse a line) or one dictionary entry. Chats are
one to three turns in DeepSeek-V4's chat format (chat mode, docs/chat.md), built from the same
sources: definitions asked for and given, verses quoted, what follows a verse. Every 50th text
document is held out (the perplexity checks of docs/default-model.md); chats built from a
held-out document are left out altogether. The output depends on nothing but the packages'
contents: the same packages give the same file, byte for byte.
"""
import gzip, json, os, random, re, subprocess, sys

BOS, EOS = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"
USER, ASSISTANT, THINK_END = "<｜User｜>", "<｜Assistant｜>", "</think>"
HELDOUT_EVERY = 50


def ensure(packages):
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env,
                       stdout=subprocess.DEVNULL)


def bible_chapters():
    """[(book, chapter, [verse text, ...])] in canonical order."""
    out = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    chapters, head = [], re.compile(r"^(\S.*\S) (\d+)$")
    for line in out.splitlines():
        m = head.match(line)
        if m:
            chapters.append((m.group(1), int(m.group(2)), []))
        elif line.strip():
            num, _, verse = line.strip().partition(" ")
            assert num.isdigit() and int(num) == len(chapters[-1][2]) + 1, line
            chapters[-1][2].append(verse.strip())
    assert len(chapters) == 1189, len(chapters)
    return chapters


def b64(s):
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    v = 0
    for c in s:
        v = v * 64 + digits.index(c)
    return v


def dict_entries(name):
    """[(headword, body)] of a dictd database, in its index order, one per offset."""
    data = gzip.open(f"/usr/share/dictd/{name}.dict.dz").read()
    seen, out = set(), []
    with open(f"/usr/share/dictd/{name}.index", encoding="utf-8") as f:
        for line in f:
            word, off, size = line.rstrip("\n").split("\t")
            if word.startswith("00database") or off in seen:
                continue
            seen.add(off)
            text = data[b64(off): b64(off) + b64(size)].decode("utf-8").strip("\n")
            out.append((word, text))
    return out


def clean_entry(name, text):
    """(headword as printed, the entry as prose) or None for an entry with no definition."""
    if name == "devil":
        m = re.match(r"([A-Z][A-Z' .-]*[A-Z.]),? (.*)", text, re.S)
        if not m:
            return None
        head, body = m.group(1).strip(" ."), m.group(2)
    else:
        lines = text.split("\n")
        head, body = lines[0].strip(), "\n".join(lines[1:])
        body = re.sub(r"\{([^{}]*)\}", r"\1", body)  # cross-reference braces
    body = "\n".join(l.strip() for l in body.split("\n"))
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    return (head, body) if len(body) > 20 else None


POS = re.compile(r"^(?:(?:n|v|vt|vi|adj|adv|interj|pl|prep|conj|pron|x)\.,?\s*)+|^/[^/\n]*/,?\s*")


def first_sentences(body, limit=400):
    """The definition's first paragraph with its part of speech, pronunciation, sense
    number and bracketed etymology removed, cut at a sentence end within `limit` chars."""
    paras = [p for p in body.split("\n\n") if len(POS.sub("", p.strip()).strip()) > 3]
    para = re.sub(r"\s+", " ", paras[0] if paras else body).strip()
    for _ in range(3):
        para = POS.sub("", para).strip()
        para = re.sub(r"^\d+\.\s*", "", para)
        para = re.sub(r"^\[[^\]]*\]\s*", "", para)
    if len(para) <= limit:
        return para
    cut = para[:limit]
    end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
    return cut[: end + 1] if end > 80 else cut.rsplit(" ", 1)[0] + "..."


def chat(turns):
    text = BOS
    for question, answer in turns:
        text += USER + question + ASSISTANT + THINK_END + answer + EOS
    return text


def definition_turn(rng, head, body):
    word = head.lower() if head.isupper() else head
    question = rng.choice([f"What does {word} mean?", f"Define {word}.",
                           f"What is the meaning of the word \"{word}\"?",
                           f"Tell me what {word} means.", f"{word}?"])
    answer = first_sentences(body)
    if len(answer) < 12:
        return None  # a bare cross-reference: no definition to give
    return question, f"{word[0].upper() + word[1:]}: {answer}"


def verse_turn(rng, book, chapter, verses):
    v = rng.randrange(len(verses))
    ref = f"{book} {chapter}:{v + 1}"
    kind = rng.randrange(3)
    if kind == 0:
        return rng.choice([f"Quote {ref}.", f"What does {ref} say?", f"Recite {ref}."]), verses[v]
    if kind == 1 and v + 1 < len(verses):
        return f"What comes after \"{verses[v]}\"?", verses[v + 1]
    opening = " ".join(verses[:2])
    return rng.choice([f"How does {book} {chapter} begin?", f"Read me the start of {book} chapter {chapter}."]), opening


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ensure(["bible-kjv", "bible-kjv-text", "dict-devil", "dict-jargon"])
    rng = random.Random(20261207)
    texts = []  # (kind of source, document text, payload for chats)
    for book, chapter, verses in bible_chapters():
        texts.append(("bible", f"{book} {chapter}\n\n" + "\n".join(verses), (book, chapter, verses)))
    for name in ("devil", "jargon"):
        for _, raw in dict_entries(name):
            entry = clean_entry(name, raw)
            if entry:
                texts.append((name, f"{entry[0]}\n\n{entry[1]}", entry))
    docs, pool = [], []
    for i, (source, text, payload) in enumerate(texts):
        heldout = i % HELDOUT_EVERY == HELDOUT_EVERY - 1
        docs.append({"kind": "text", "split": "heldout" if heldout else "train", "text": text})
        if not heldout:
            pool.append((source, payload))
    # Chats: about two per dictionary entry and one per chapter, one to three turns each.
    n_chats = sum(2 if s != "bible" else 1 for s, _ in pool)
    for _ in range(n_chats):
        turns = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            turn = None
            while turn is None:
                source, payload = rng.choice(pool)
                turn = verse_turn(rng, *payload) if source == "bible" else definition_turn(rng, *payload)
            turns.append(turn)
        docs.append({"kind": "chat", "split": "train", "text": chat(turns)})
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    by = {}
    for d in docs:
        k = (d["kind"], d["split"])
        by[k] = (by.get(k, (0, 0))[0] + 1, by.get(k, (0, 0))[1] + len(d["text"]))
    for (kind, split), (n, chars) in sorted(by.items()):
        print(f"corpus: {kind:4s} {split:7s} {n:6d} documents, {chars / 1e6:.2f} M characters")


if __name__ == "__main__":
    main()
