#!/usr/bin/env python3
# chatref.py - reference prompts and parses from DeepSeek's own chat encoder.
#
# Runs encode_messages and parse_message_from_completion_text of DeepSeek's
# encoding_dsv4.py (the `encoding/` folder of the DeepSeek-V4-Flash release)
# over the cases in test/data/chat/cases.json and writes what they return to
# test/data/chat/reference.json, which ChatEncodingTest and ChatParsingTest
# compare Birkhoff with.
#
# The cases are OpenAI request bodies. DeepSeek's encoder takes messages, so
# this script turns a body into them the way lib/ChatRequest.cpp does (tools
# at the top level join the system message, or a system message is put first
# for them; text parts are joined; the API's effort names are mapped), and
# then the encoder does the rest. A case the encoder or parser raises on is
# written with its error.
#
# Usage (DeepSeek's encoding folder is not in this repository):
#   python3 tools/chatref.py PATH/TO/encoding test/data/chat
import json
import os
import sys

EFFORTS = {"minimal": "high", "low": "high", "medium": "high", "high": "high",
           "xhigh": "high", "max": "max", "ultra": "max"}


def text_of(content):
    if isinstance(content, list):
        return "".join(part["text"] for part in content)
    return content


def to_messages(body):
    messages = []
    for msg in body["messages"]:
        msg = dict(msg)
        if msg.get("role") != "tool" and "content" in msg:
            msg["content"] = text_of(msg["content"])
        messages.append(msg)
    if body.get("tools"):
        if messages[0].get("role") != "system":
            messages.insert(0, {"role": "system"})
        messages[0]["tools"] = body["tools"]
    return messages


def main():
    encoding_dir, data_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, encoding_dir)
    import encoding_dsv4 as enc

    with open(os.path.join(data_dir, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)

    out = {"encode": [], "parse": []}
    for case in cases["encode"]:
        body = case["request"]
        thinking = case.get("thinking")
        if thinking is None:
            thinking = body.get("thinking", {}).get("type") == "enabled"
        effort = case.get("effort") or body.get("reasoning_effort")
        # The release encoder takes None, "high" or "max"; low adds nothing,
        # as high does.
        effort = EFFORTS[effort] if effort else None
        try:
            prompt = enc.encode_messages(
                to_messages(body),
                thinking_mode="thinking" if thinking else "chat",
                reasoning_effort=effort)
            out["encode"].append({"name": case["name"], "prompt": prompt})
        except Exception as e:  # the encoder asserts and raises on bad input
            out["encode"].append({"name": case["name"],
                                  "error": type(e).__name__ + ": " + str(e)})
    for case in cases["parse"]:
        mode = "thinking" if case.get("thinking") else "chat"
        try:
            msg = enc.parse_message_from_completion_text(case["text"], mode)
            out["parse"].append({"name": case["name"], "message": msg})
        except Exception as e:
            out["parse"].append({"name": case["name"],
                                 "error": type(e).__name__ + ": " + str(e)})

    with open(os.path.join(data_dir, "reference.json"), "w",
              encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
