# Writes tests/fixtures/openai/*.sse (OpenAI Chat Completions streams) and the
# Anthropic events each must become (*.expected.json), written out by hand
# below. Run from tests/fixtures/openai: python3 ../../../scripts/gen-openai-fixtures.py
import json
def chunk(id, delta=None, finish=None, usage=None, choices=True, model="gpt-test"):
    c = {"id": id, "object": "chat.completion.chunk", "created": 1764000000, "model": model}
    c["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage is not None: c["usage"] = usage
    return c
def sse(chunks, done=True, crlf=False):
    nl = "\r\n" if crlf else "\n"
    out = "".join(f"data: {json.dumps(c, ensure_ascii=False)}{nl}{nl}" for c in chunks)
    if done: out += f"data: [DONE]{nl}{nl}"
    return out
def E(t, **d): return {"event": t, "data": {"type": t, **d}}
def start(id, model="gpt-test"): return E("message_start", message={"id": "msg_"+id, "type":"message","role":"assistant","model":model,"content":[],"stop_reason":None,"stop_sequence":None,"usage":{"input_tokens":0,"output_tokens":0}})
def bstart(i, cb): return E("content_block_start", index=i, content_block=cb)
def text(i, t): return E("content_block_delta", index=i, delta={"type":"text_delta","text":t})
def think(i, t): return E("content_block_delta", index=i, delta={"type":"thinking_delta","thinking":t})
def pj(i, t): return E("content_block_delta", index=i, delta={"type":"input_json_delta","partial_json":t})
def bstop(i): return E("content_block_stop", index=i)
def mdelta(stop, usage): return E("message_delta", delta={"stop_reason":stop,"stop_sequence":None}, usage=usage)
def mstop(): return E("message_stop")
TEXT_CB = {"type":"text","text":""}
THINK_CB = {"type":"thinking","thinking":"","signature":""}
def TOOL_CB(id, name): return {"type":"tool_use","id":id,"name":name,"input":{}}
U = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150, "prompt_tokens_details": {"cached_tokens": 100}}
UA = {"input_tokens": 20, "cache_read_input_tokens": 100, "output_tokens": 30}
fx = {}
i = "chatcmpl-text"
fx["text"] = (sse([chunk(i, {"role":"assistant","content":""}), chunk(i, {"content":"Hello"}), chunk(i, {"content":", world — ✓"}), chunk(i, {}, "stop"), chunk(i, usage=U, choices=False)], crlf=True),
  [start(i), bstart(0, TEXT_CB), text(0,"Hello"), text(0,", world — ✓"), bstop(0), mdelta("end_turn", UA), mstop()])
i = "chatcmpl-tool"
fx["tool_single"] = (sse([chunk(i, {"role":"assistant","content":None,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"Read","arguments":""}}]}),
   chunk(i, {"tool_calls":[{"index":0,"function":{"arguments":"{\"file_"}}]}), chunk(i, {"tool_calls":[{"index":0,"function":{"arguments":"path\": \"/a.c\"}"}}]}),
   chunk(i, {}, "tool_calls"), chunk(i, usage=U, choices=False)]),
  [start(i), bstart(0, TOOL_CB("call_abc","Read")), pj(0,"{\"file_"), pj(0,"path\": \"/a.c\"}"), bstop(0), mdelta("tool_use", UA), mstop()])
i = "chatcmpl-par"
fx["tool_parallel"] = (sse([chunk(i, {"role":"assistant","content":"Reading three files."}),
   chunk(i, {"tool_calls":[{"index":0,"id":"call_0","type":"function","function":{"name":"Read","arguments":"{\"p\":"}}]}),
   chunk(i, {"tool_calls":[{"index":1,"id":"call_1","type":"function","function":{"name":"Read","arguments":"{\"p\":"}}]}),
   chunk(i, {"tool_calls":[{"index":2,"id":"call_2","type":"function","function":{"name":"Grep","arguments":""}}]}),
   chunk(i, {"tool_calls":[{"index":1,"function":{"arguments":"\"b\"}"}}]}),
   chunk(i, {"tool_calls":[{"index":0,"function":{"arguments":"\"a\"}"}}]}),
   chunk(i, {"tool_calls":[{"index":2,"function":{"arguments":"{\"q\":\"x\"}"}}]}),
   chunk(i, {}, "tool_calls"), chunk(i, usage=U, choices=False)]),
  [start(i), bstart(0, TEXT_CB), text(0, "Reading three files."), bstop(0),
   bstart(1, TOOL_CB("call_0","Read")), pj(1, "{\"p\":"), pj(1, "\"a\"}"), bstop(1),
   bstart(2, TOOL_CB("call_1","Read")), pj(2, "{\"p\":\"b\"}"), bstop(2),
   bstart(3, TOOL_CB("call_2","Grep")), pj(3, "{\"q\":\"x\"}"), bstop(3),
   mdelta("tool_use", UA), mstop()])
i = "chatcmpl-ds"
fx["reasoning_text_tool"] = (sse([chunk(i, {"role":"assistant","content":None,"reasoning_content":""}, model="deepseek-reasoner"),
   chunk(i, {"reasoning_content":"The user wants"}, model="deepseek-reasoner"), chunk(i, {"reasoning_content":" a file listed."}, model="deepseek-reasoner"),
   chunk(i, {"content":"Let me look."}, model="deepseek-reasoner"),
   chunk(i, {"tool_calls":[{"index":0,"id":"call_ds","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"ls\"}"}}]}, model="deepseek-reasoner"),
   chunk(i, {}, "tool_calls", usage=U, model="deepseek-reasoner")]),
  [start(i, "deepseek-reasoner"), bstart(0, THINK_CB), think(0,"The user wants"), think(0," a file listed."), bstop(0),
   bstart(1, TEXT_CB), text(1,"Let me look."), bstop(1), bstart(2, TOOL_CB("call_ds","Bash")), pj(2,"{\"command\":\"ls\"}"), bstop(2),
   mdelta("tool_use", UA), mstop()])
i = "chatcmpl-usage"
fx["usage_last"] = (sse([chunk(i, {"role":"assistant","content":"Hi"}), chunk(i, {}, "stop"), chunk(i, usage={"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}, choices=False)]),
  [start(i), bstart(0, TEXT_CB), text(0,"Hi"), bstop(0), mdelta("end_turn", {"input_tokens":7,"cache_read_input_tokens":0,"output_tokens":2}), mstop()])
i = "chatcmpl-err"
fx["error_mid"] = (sse([chunk(i, {"role":"assistant","content":"Par"}), {"error": {"message": "upstream overloaded", "type": "server_error", "code": 503}}], done=False),
  [start(i), bstart(0, TEXT_CB), text(0,"Par"), {"event":"error","data":{"type":"error","error":{"type":"api_error","message":"upstream overloaded"}}}])
i = "chatcmpl-len"
fx["length"] = (": keep-alive\n\n" + sse([chunk(i, {"role":"assistant","content":"Once upon"}), chunk(i, {"content":" a time"}, "length"), chunk(i, usage=U, choices=False)]),
  [start(i), bstart(0, TEXT_CB), text(0,"Once upon"), text(0," a time"), bstop(0), mdelta("max_tokens", UA), mstop()])
i = "chatcmpl-nofin"
fx["no_finish"] = (sse([chunk(i, {"role":"assistant","content":"cut"})], done=False),
  [start(i), bstart(0, TEXT_CB), text(0,"cut"), bstop(0), mdelta("end_turn", {"output_tokens":0}), mstop()])
for name, (s, exp) in fx.items():
    open(f"{name}.sse","w",newline="").write(s)
    open(f"{name}.expected.json","w").write(json.dumps(exp, indent=1, ensure_ascii=False) + "\n")
print(list(fx))
