# Writes tests/fixtures/gemini/*.sse (Gemini streamGenerateContent?alt=sse
# streams) and the Anthropic events each must become (*.expected.json),
# written out by hand below. Tool ids are random: the test compares them as
# "toolu_*" followed by the signature they carry.
# Run from tests/fixtures/gemini: python3 ../../../scripts/gen-gemini-fixtures.py
import json
M = "gemini-2.5-pro"
def chunk(rid, parts=None, finish=None, usage=None, model=M, cand=True, feedback=None):
    c = {}
    if cand:
        cd = {"content": {"parts": parts or [], "role": "model"}, "index": 0}
        if finish: cd["finishReason"] = finish
        c["candidates"] = [cd]
    if feedback: c["promptFeedback"] = feedback
    if usage: c["usageMetadata"] = usage
    c["modelVersion"] = model
    c["responseId"] = rid
    return c
def sse(chunks, crlf=False):
    nl = "\r\n" if crlf else "\n"
    return "".join(f"data: {json.dumps(c, ensure_ascii=False)}{nl}{nl}" for c in chunks)
def E(t, **d): return {"event": t, "data": {"type": t, **d}}
def start(rid, model=M): return E("message_start", message={"id": "msg_"+rid, "type":"message","role":"assistant","model":model,"content":[],"stop_reason":None,"stop_sequence":None,"usage":{"input_tokens":0,"output_tokens":0}})
def bstart(i, cb): return E("content_block_start", index=i, content_block=cb)
def text(i, t): return E("content_block_delta", index=i, delta={"type":"text_delta","text":t})
def think(i, t): return E("content_block_delta", index=i, delta={"type":"thinking_delta","thinking":t})
def sig(i, s): return E("content_block_delta", index=i, delta={"type":"signature_delta","signature":s})
def pj(i, t): return E("content_block_delta", index=i, delta={"type":"input_json_delta","partial_json":t})
def bstop(i): return E("content_block_stop", index=i)
def mdelta(stop, usage): return E("message_delta", delta={"stop_reason":stop,"stop_sequence":None}, usage=usage)
def mstop(): return E("message_stop")
TEXT_CB = {"type":"text","text":""}
THINK_CB = {"type":"thinking","thinking":"","signature":""}
def TOOL_CB(id, name): return {"type":"tool_use","id":id,"name":name,"input":{}}
U = {"promptTokenCount": 120, "cachedContentTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 10, "totalTokenCount": 150}
UA = {"input_tokens": 20, "cache_read_input_tokens": 100, "output_tokens": 30}
SIG = "CiQBVKhc7h+/ab=="            # a thoughtSignature (base64, with + / =)
SIG_ID = "toolu_*_gs_CiQBVKhc7h-_ab"   # how it travels in the tool_use id
fx = {}
r = "r-text"
fx["text"] = (sse([chunk(r, [{"text": "Hello"}]), chunk(r, [{"text": ", world — ✓"}], "STOP", U)], crlf=True),
  [start(r), bstart(0, TEXT_CB), text(0, "Hello"), text(0, ", world — ✓"), bstop(0), mdelta("end_turn", UA), mstop()])
r = "r-think"
fx["thinking_text"] = (sse([chunk(r, [{"text": "Considering the files", "thought": True}]),
    chunk(r, [{"text": " first.", "thought": True, "thoughtSignature": SIG}]),
    chunk(r, [{"text": "Done."}], "STOP", U)]),
  [start(r), bstart(0, THINK_CB), think(0, "Considering the files"), think(0, " first."), sig(0, SIG), bstop(0),
   bstart(1, TEXT_CB), text(1, "Done."), bstop(1), mdelta("end_turn", UA), mstop()])
r = "r-call"
fx["function_call"] = (sse([chunk(r, [{"text": "Reading it."}]),
    chunk(r, [{"functionCall": {"name": "Read", "args": {"file_path": "/a.c"}}, "thoughtSignature": SIG}], "STOP", U)]),
  [start(r), bstart(0, TEXT_CB), text(0, "Reading it."), bstop(0), bstart(1, TOOL_CB(SIG_ID, "Read")),
   pj(1, "{\"file_path\":\"/a.c\"}"), bstop(1), mdelta("tool_use", UA), mstop()])
r = "r-calls"
fx["function_calls"] = (sse([chunk(r, [{"functionCall": {"name": "Read", "args": {"p": "a"}}, "thoughtSignature": SIG},
                                      {"functionCall": {"name": "Grep", "args": {"q": "x", "n": [1, 2]}}}]),
    chunk(r, [{"functionCall": {"name": "Bash"}}], "STOP", U)]),
  [start(r), bstart(0, TOOL_CB(SIG_ID, "Read")), pj(0, "{\"p\":\"a\"}"), bstop(0),
   bstart(1, TOOL_CB("toolu_*", "Grep")), pj(1, "{\"q\":\"x\",\"n\":[1,2]}"), bstop(1),
   bstart(2, TOOL_CB("toolu_*", "Bash")), pj(2, "{}"), bstop(2), mdelta("tool_use", UA), mstop()])
r = "r-safety"
fx["safety"] = (sse([chunk(r, [{"text": "I can"}]), chunk(r, [], "SAFETY", {"promptTokenCount": 5, "candidatesTokenCount": 2})]),
  [start(r), bstart(0, TEXT_CB), text(0, "I can"), bstop(0), mdelta("refusal", {"input_tokens": 5, "cache_read_input_tokens": 0, "output_tokens": 2}), mstop()])
r = "r-usage"
fx["usage_last"] = (sse([chunk(r, [{"text": "Hi"}]), chunk(r, [{"text": ""}], "MAX_TOKENS"), chunk(r, None, usage={"promptTokenCount": 7, "candidatesTokenCount": 2}, cand=False)]),
  [start(r), bstart(0, TEXT_CB), text(0, "Hi"), bstop(0), mdelta("max_tokens", {"input_tokens": 7, "cache_read_input_tokens": 0, "output_tokens": 2}), mstop()])
r = "r-err"
fx["error"] = (sse([chunk(r, [{"text": "Par"}]), {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}]),
  [start(r), bstart(0, TEXT_CB), text(0, "Par"), {"event":"error","data":{"type":"error","error":{"type":"api_error","message":"The model is overloaded. Please try again later."}}}])
for name, (s, exp) in fx.items():
    open(f"{name}.sse","w",newline="").write(s)
    open(f"{name}.expected.json","w").write(json.dumps(exp, indent=1, ensure_ascii=False) + "\n")
print(list(fx))
