#!/usr/bin/env python3
"""Trains Birkhoff's default model, a small DeepSeek-V4, with HF transformers on one GPU and
writes it as DeepSeek ships V4: FP8 e4m3 attention and shared expert with 128x128 ue8m0 scales,
packed FP4 e2m1 routed experts with per-32 ue8m0 scales, in DeepSeek's tensor names, with its
tokenizer.json and generation_config.json. Then makes the reference data of the fidelity tests
with the same transformers model in float32.

  train.py OUT --corpus corpus.jsonl --tokenizer-template tokenizer.json [--seconds S | --steps N]

  --corpus              tools/tiny-model/corpus.py's output
  --tokenizer-template  a DeepSeek tokenizer.json: its pre-tokenizer, decoder and post-processor
                        are kept, its vocabulary is trained anew on the corpus
  --seconds S           train for about S seconds: the step count is fixed after 10 timed steps
                        and printed (default 240)
  --steps N             train exactly N steps (what --seconds printed, to repeat a run)

Writes OUT/model/ (the checkpoint) and OUT/reference/ (reference.json and .npy files). Every
random choice comes from --seed; on a GPU the float sums of training are not bitwise
reproducible (atomics), so a second run gives a model of the same quality, not the same bytes.
"""
import argparse, json, math, os, random, re, sys, tarfile, time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.nn.utils import parametrize

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
CHAT_TOKENS = ["<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "｜DSML｜", "<｜latest_reminder｜>"]

# The model: every V4 piece (window-only, CSA with the Lightning Indexer, HCA; hash-routed and
# top-k MoE with the shared expert and the SwiGLU clamp; mHC with Sinkhorn), with dims that are
# multiples of DeepSeek's 128-blocks so the FP8 scales tile exactly.
CONFIG = dict(
    vocab_size=4096, hidden_size=256, moe_intermediate_size=128, num_hidden_layers=6,
    num_attention_heads=4, num_key_value_heads=1, head_dim=128, qk_rope_head_dim=64,
    q_lora_rank=128, o_groups=2, o_lora_rank=128, sliding_window=128,
    layer_types=["sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention",
                 "sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention"],
    compress_rates={"compressed_sparse_attention": 4, "heavily_compressed_attention": 32},
    mlp_layer_types=["hash_moe", "moe", "moe", "moe", "moe", "moe"],
    n_routed_experts=16, num_experts_per_tok=2, n_shared_experts=1,
    index_n_heads=16, index_head_dim=64, index_topk=16,
    hc_mult=4, hc_sinkhorn_iters=20, hc_eps=1e-6, routed_scaling_factor=1.5,
    scoring_func="sqrtsoftplus", norm_topk_prob=True, swiglu_limit=10.0,
    rope_theta=10000.0, compress_rope_theta=160000.0,
    rope_scaling={"type": "yarn", "factor": 16, "original_max_position_embeddings": 256,
                  "beta_fast": 32, "beta_slow": 1},
    max_position_embeddings=4096, rms_norm_eps=1e-6, tie_word_embeddings=False,
    bos_token_id=0, eos_token_id=1, initializer_range=0.02)
QUANT_CONFIG = {"quant_method": "fp8", "fmt": "e4m3", "scale_fmt": "ue8m0",
                "weight_block_size": [128, 128], "activation_scheme": "dynamic"}
GENERATION_CONFIG = {"bos_token_id": 0, "eos_token_id": 1, "do_sample": True,
                     "temperature": 0.7, "top_p": 0.9}

SEQ, BATCH = 1024, 16
EVAL_WINDOW, EVAL_WINDOWS = 512, 16          # held-out perplexity: 16 windows of 512 tokens
GREEDY_TOKENS = 1000
PROMPTS = [  # (name, text): the greedy continuations of the fidelity tests
    ("genesis", BOS + "In the beginning"),
    ("hacker", BOS + "hacker\n\n"),
    ("chat", BOS + "<｜User｜>What does the word \"patience\" mean?<｜Assistant｜></think>"),
]

# DeepSeek's formats: which HF parameters are FP8 linears (the rest bf16, a few f32).
FP8_LINEARS = (".self_attn.q_a_proj.", ".self_attn.q_b_proj.", ".self_attn.kv_proj.",
               ".self_attn.o_a_proj.", ".self_attn.o_b_proj.",
               ".self_attn.compressor.indexer.q_b_proj.", ".mlp.shared_experts.")
FP32_KEEP = ("attn_hc", "ffn_hc", "hc_head", "sinks", "position_bias", "e_score_correction_bias")
E2M1 = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def is_fp8_linear(name):
    return name.endswith(".weight") and any(t in name for t in FP8_LINEARS) and "norm" not in name


def pow2_scale(amax, qmax):
    """The ue8m0 rule: s = 2^ceil(log2(amax / qmax)); returns (s, its e8m0 byte)."""
    m, e = torch.frexp((amax * (1.0 / qmax)).float())
    e = e - (m == 0.5).to(e.dtype)
    return torch.ldexp(torch.ones_like(m), e), (e + 127).to(torch.uint8)


def fp8_quant(w):
    """[out, in] -> (e4m3 codes, e8m0 bytes [ceil(out/128), ceil(in/128)], dequantized)."""
    o, i = w.shape
    po, pi = -(-o // 128) * 128, -(-i // 128) * 128
    wp = w.new_zeros(po, pi)
    wp[:o, :i] = w
    amax = wp.view(po // 128, 128, pi // 128, 128).abs().amax(dim=(1, 3)).clamp(min=1e-4)
    scale, byte = pow2_scale(amax, 448.0)
    full = scale.repeat_interleave(128, 0).repeat_interleave(128, 1)[:o, :i]
    q = (w / full).clamp(-448, 448).to(torch.float8_e4m3fn)
    return q, byte, q.float() * full


def e2m1_codes(x):
    """Values in [-6, 6] -> 4-bit e2m1 codes: nearest, ties to the even mantissa."""
    grid = torch.tensor(E2M1, device=x.device)
    d = (x.abs()[..., None] - grid).abs()
    tie = d == d.min(-1, keepdim=True).values
    even = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0], dtype=torch.bool, device=x.device)
    code = (torch.where(tie & even, 0, 1) + torch.where(tie, 0, 2)).argmin(-1)
    return code | ((x < 0) & (code > 0)).to(code.dtype) << 3


def fp4_quant(w):
    """[out, in] -> (packed int8 [out, in/2], e8m0 bytes [out, in/32], dequantized)."""
    o, i = w.shape
    blocks = w.reshape(o, i // 32, 32)
    amax = blocks.abs().amax(-1).clamp(min=6 * 2.0 ** -126)
    scale, byte = pow2_scale(amax, 6.0)
    codes = e2m1_codes((blocks / scale[..., None]).clamp(-6, 6)).view(o, i)
    grid = torch.tensor(E2M1, device=w.device)
    mag = grid[codes & 7] * torch.where(codes >= 8, -1.0, 1.0)
    deq = (mag.view(o, i // 32, 32) * scale[..., None]).view(o, i)
    packed = (codes[:, 0::2] | (codes[:, 1::2] << 4)).to(torch.uint8).view(torch.int8)
    return packed, byte, deq


class FakeQuant(torch.nn.Module):
    """Quantization-aware training: the forward sees the quantized weight, the gradient passes
    straight through to the float master weight."""

    def __init__(self, fp4):
        super().__init__()
        self.fp4 = fp4

    def forward(self, w):
        with torch.no_grad():
            flat = w.reshape(-1, w.shape[-1])
            q = (fp4_quant(flat) if self.fp4 else fp8_quant(flat))[2].view_as(w)
        return w + (q - w).detach()


def quantized_params(model):
    """(module, attribute, fp4?) for every weight that the checkpoint stores quantized."""
    out = []
    for name, mod in model.named_modules():
        if hasattr(mod, "gate_up_proj") and hasattr(mod, "down_proj") and name.endswith("mlp.experts"):
            out += [(mod, "gate_up_proj", True), (mod, "down_proj", True)]
        elif isinstance(mod, torch.nn.Linear) and is_fp8_linear(name + ".weight"):
            out.append((mod, "weight", False))
    return out


# --- checkpoint layout -----------------------------------------------------------------------

def hub_name(k):
    """HF state-dict key -> DeepSeek's checkpoint key."""
    k = k[len("model."):] if k.startswith("model.") else k
    leaf = {"embed_tokens.weight": "embed.weight", "lm_head.weight": "head.weight",
            "hc_head.hc_fn": "hc_head_fn", "hc_head.hc_base": "hc_head_base",
            "hc_head.hc_scale": "hc_head_scale", "norm.weight": "norm.weight"}
    if k in leaf:
        return leaf[k]
    for a, b in [
            (".self_attn.compressor.indexer.scorer.weights_proj.", ".attn.indexer.weights_proj."),
            (".self_attn.compressor.indexer.q_b_proj.", ".attn.indexer.wq_b."),
            (".self_attn.compressor.indexer.kv_proj.", ".attn.indexer.compressor.wkv."),
            (".self_attn.compressor.indexer.gate_proj.", ".attn.indexer.compressor.wgate."),
            (".self_attn.compressor.indexer.kv_norm.", ".attn.indexer.compressor.norm."),
            (".self_attn.compressor.kv_proj.", ".attn.compressor.wkv."),
            (".self_attn.compressor.gate_proj.", ".attn.compressor.wgate."),
            (".self_attn.compressor.kv_norm.", ".attn.compressor.norm."),
            (".self_attn.q_a_proj.", ".attn.wq_a."), (".self_attn.q_a_norm.", ".attn.q_norm."),
            (".self_attn.q_b_proj.", ".attn.wq_b."), (".self_attn.kv_proj.", ".attn.wkv."),
            (".self_attn.kv_norm.", ".attn.kv_norm."), (".self_attn.o_a_proj.", ".attn.wo_a."),
            (".self_attn.o_b_proj.", ".attn.wo_b."),
            (".input_layernorm.", ".attn_norm."), (".post_attention_layernorm.", ".ffn_norm."),
            (".mlp.shared_experts.gate_proj.", ".ffn.shared_experts.w1."),
            (".mlp.shared_experts.down_proj.", ".ffn.shared_experts.w2."),
            (".mlp.shared_experts.up_proj.", ".ffn.shared_experts.w3."),
            (".mlp.gate.", ".ffn.gate."), (".mlp.experts", ".ffn.experts")]:
        if a in k:
            k = k.replace(a, b)
            break
    for a, b in [(".self_attn.compressor.indexer.position_bias", ".attn.indexer.compressor.ape"),
                 (".self_attn.compressor.position_bias", ".attn.compressor.ape"),
                 (".self_attn.sinks", ".attn.attn_sink"),
                 (".attn_hc.fn", ".hc_attn_fn"), (".attn_hc.base", ".hc_attn_base"),
                 (".attn_hc.scale", ".hc_attn_scale"), (".ffn_hc.fn", ".hc_ffn_fn"),
                 (".ffn_hc.base", ".hc_ffn_base"), (".ffn_hc.scale", ".hc_ffn_scale"),
                 (".ffn.gate.e_score_correction_bias", ".ffn.gate.bias")]:
        if k.endswith(a):
            return k[: -len(a)] + b
    return k


def stored_dtype(k, v):
    if "tid2eid" in k:
        return v.dtype
    if any(t in k for t in FP32_KEEP) and v.dim() <= 2 and "proj" not in k:
        return torch.float32
    return torch.bfloat16


@torch.no_grad()
def to_checkpoint(model):
    """Quantizes the model in place to exactly what the checkpoint holds (so the float32 model
    is the checkpoint's exact dequantization) and returns DeepSeek's tensors."""
    hub = {}
    for k, v in model.state_dict().items():
        if "rotary_emb" in k:
            continue
        if ".mlp.experts.gate_up_proj" in k or ".mlp.experts.down_proj" in k:
            base = hub_name(k.rsplit(".", 1)[0])
            half = v.shape[1] // 2
            for e in range(v.shape[0]):
                parts = ([("w1", slice(0, half)), ("w3", slice(half, None))]
                         if k.endswith("gate_up_proj") else [("w2", slice(None))])
                for w, rows in parts:
                    packed, byte, deq = fp4_quant(v[e, rows].float())
                    v[e, rows] = deq
                    hub[f"{base}.{e}.{w}.weight"] = packed.cpu().contiguous()
                    hub[f"{base}.{e}.{w}.scale"] = byte.view(torch.float8_e8m0fnu).cpu().contiguous()
            continue
        name = hub_name(k)
        if is_fp8_linear(k):
            q, byte, deq = fp8_quant(v.float())
            v.copy_(deq)
            hub[name] = q.cpu().contiguous()
            hub[name[: -len(".weight")] + ".scale"] = byte.view(torch.float8_e8m0fnu).cpu().contiguous()
            continue
        dt = stored_dtype(k, v)
        v.copy_(v.to(dt).to(v.dtype))
        hub[name] = (v.to(torch.int64) if "tid2eid" in k else v.to(dt)).cpu().contiguous()
    return hub


def hub_config():
    cfg = dict(CONFIG, architectures=["DeepseekV4ForCausalLM"], model_type="deepseek_v4",
               torch_dtype="bfloat16", quantization_config=QUANT_CONFIG)
    cfg.pop("initializer_range")
    return cfg


def write_checkpoint(d, hub, tokenizer_json):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hub_config(), f, indent=2)
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tokenizer_json)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": BOS, "eos_token": EOS, "pad_token": PAD, "add_bos_token": False,
                   "model_max_length": CONFIG["max_position_embeddings"],
                   "tokenizer_class": "PreTrainedTokenizerFast"}, f, indent=2, ensure_ascii=False)
    keys = sorted(hub)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
    wmap = {}
    for fn, ks in shards.items():
        save_file({k: hub[k] for k in ks}, os.path.join(d, fn), metadata={"format": "pt"})
        wmap.update({k: fn for k in ks})
    total = sum(t.numel() * t.element_size() for t in hub.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wmap}, f, indent=1, sort_keys=True)
    return total


# --- tokenizer --------------------------------------------------------------------------------

def train_tokenizer(template_path, texts):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    t = json.load(open(template_path, encoding="utf-8"))
    steps = t["pre_tokenizer"]["pretokenizers"]
    assert [s["type"] for s in steps] == ["Split"] * (len(steps) - 1) + ["ByteLevel"], steps
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(s["pattern"]["Regex"]), behavior=s["behavior"].lower(),
                              invert=s["invert"]) for s in steps[:-1]]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=CONFIG["vocab_size"], min_frequency=2,
                                  special_tokens=[BOS, EOS, PAD] + CHAT_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    # The chat markers are whole tokens: the merges are learned from the text between them.
    markers = re.compile("|".join(re.escape(m) for m in [BOS, EOS] + CHAT_TOKENS))
    tok.train_from_iterator((markers.sub("\n", x) for x in texts), trainer)
    out = json.loads(tok.to_str())
    for k in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        out[k] = t[k]  # DeepSeek's own pipeline, verbatim
    for a in out["added_tokens"]:  # as DeepSeek's: the chat markers are not special tokens
        if a["content"] in CHAT_TOKENS:
            a["special"], a["normalized"] = False, True
    s = json.dumps(out, ensure_ascii=False)
    tok = Tokenizer.from_str(s)
    CONFIG["vocab_size"] = tok.get_vocab_size()  # the target, unless the corpus has fewer merges
    assert tok.token_to_id(BOS) == 0 and tok.token_to_id(EOS) == 1
    return tok, s


# --- training ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer-template", required=True)
    ap.add_argument("--seconds", type=float, default=240)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1207)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--qat-fraction", type=float, default=0.2)
    ap.add_argument("--archive", help="also pack OUT/model and OUT/reference into this tar as "
                                      "soon as each is written (a run cut short keeps them)")
    args = ap.parse_args()
    t0 = time.time()
    log = lambda msg: print(f"[{time.time() - t0:6.1f} s] {msg}", flush=True)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = True  # training only; the reference turns it off
    dev = torch.device("cuda")
    import transformers
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM, DynamicCache
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{torch.cuda.get_device_name(0)}")

    docs = [json.loads(line) for line in open(args.corpus, encoding="utf-8")]
    tok, tok_json = train_tokenizer(args.tokenizer_template,
                                    [d["text"] for d in docs if d["split"] == "train"])
    log(f"tokenizer: {tok.get_vocab_size()} tokens")

    def ids_of(d):
        ids = tok.encode(d["text"]).ids
        return ids if d["kind"] == "chat" else [0] + ids + [1]

    rng = random.Random(args.seed)
    train_docs = [d for d in docs if d["split"] == "train"]
    rng.shuffle(train_docs)
    enc = tok.encode_batch([d["text"] for d in train_docs])
    stream = []
    for d, e in zip(train_docs, enc):
        stream += e.ids if d["kind"] == "chat" else [0] + e.ids + [1]
    stream = torch.tensor(stream, dtype=torch.long)
    held = []
    for d in docs:
        if d["split"] == "heldout":
            held += ids_of(d)
    need = EVAL_WINDOW * EVAL_WINDOWS
    assert len(held) >= need, (len(held), need)
    held = torch.tensor(held[:need], dtype=torch.long).view(EVAL_WINDOWS, EVAL_WINDOW)
    log(f"corpus: {len(stream)} training tokens, {held.numel()} held-out tokens")

    # The config is read as a checkpoint's config.json is, so the reference reads what
    # Birkhoff reads (the legacy `rope_scaling` included).
    cdir = os.path.join(args.out, "config")
    os.makedirs(cdir, exist_ok=True)
    with open(os.path.join(cdir, "config.json"), "w") as f:
        json.dump({k: v for k, v in hub_config().items() if k != "quantization_config"}, f, indent=2)
    cfg = DeepseekV4Config.from_pretrained(cdir)
    cfg.initializer_range = CONFIG["initializer_range"]
    cfg._attn_implementation = "eager"
    model = DeepseekV4ForCausalLM(cfg).to(dev).float()
    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("tid2eid"):  # a fixed random token -> distinct experts table
                buf.copy_(torch.stack([torch.randperm(CONFIG["n_routed_experts"], generator=g)[
                    : CONFIG["num_experts_per_tok"]] for _ in range(CONFIG["vocab_size"])]).to(buf))
        for name, p in model.named_parameters():
            # the indexer learns nothing through top-k: a fan-in scale spreads its scores
            if ".indexer." in name and p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g).to(p) / math.sqrt(p.shape[-1]))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters")

    # DeepSeek's auxiliary-loss-free balancing: each top-k router's bias moves toward the
    # experts that got fewer tokens than average.
    from transformers.models.deepseek_v4.modeling_deepseek_v4 import DeepseekV4TopKRouter
    routed = []
    routers = [m for m in model.modules() if isinstance(m, DeepseekV4TopKRouter)]
    for r in routers:
        r.register_forward_hook(lambda m, i, o: routed.append((m, o[2].detach())))

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)

    @torch.no_grad()
    def heldout_loss():
        model.eval()
        tot = 0.0
        for w in held:
            x = w[None].to(dev)
            tot += float(model(input_ids=x, labels=x, use_cache=False).loss) * (EVAL_WINDOW - 1)
        model.train()
        return tot / (EVAL_WINDOWS * (EVAL_WINDOW - 1))

    def batch():
        starts = torch.randint(0, len(stream) - SEQ, (BATCH,), generator=g)
        return torch.stack([stream[s: s + SEQ] for s in starts]).to(dev)

    steps, warmup, step, qat_on = args.steps, 50, 0, False
    model.train()
    t_train = time.time()
    while True:
        if step == 13 and not steps:  # 3 warm-up steps, then 10 timed ones fix the count
            per = (time.time() - t_timed) / 10
            steps = max(100, int((args.seconds - (time.time() - t_train)) / per) + step)
            log(f"{per * 1e3:.0f} ms a step: training {steps} steps (repeat with --steps {steps})")
        if step == 3:
            torch.cuda.synchronize()
            t_timed = time.time()
        if steps and step >= steps:
            break
        total = steps or 10 ** 9
        if not qat_on and steps and step >= int(steps * (1 - args.qat_fraction)):
            log(f"step {step}: held-out loss {heldout_loss():.4f}; quantization-aware from here")
            for mod, attr, fp4 in quantized_params(model):
                parametrize.register_parametrization(mod, attr, FakeQuant(fp4))
            qat_on = True
        lr = args.lr * (step + 1) / warmup if step < warmup else \
            args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup)))))
        for group in opt.param_groups:
            group["lr"] = lr
        x = batch()
        routed.clear()
        opt.zero_grad(set_to_none=True)
        with parametrize.cached():  # one fake quantization a step, not one a weight access
            loss = model(input_ids=x, labels=x, use_cache=False).loss
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for router, idx in routed:
                load = torch.bincount(idx.reshape(-1), minlength=router.num_experts).float()
                router.e_score_correction_bias += 1e-3 * torch.sign(load.mean() - load)
        if step % 100 == 0:
            log(f"step {step}: loss {float(loss):.4f}, lr {lr:.2e}")
        step += 1
    for mod, attr, _ in quantized_params(model):
        if parametrize.is_parametrized(mod, attr):
            parametrize.remove_parametrizations(mod, attr, leave_parametrized=False)
    log(f"trained {step} steps in {time.time() - t_train:.0f} s; held-out loss "
        f"{heldout_loss():.4f} (float weights)")

    hub = to_checkpoint(model)
    mdir = os.path.join(args.out, "model")
    total = write_checkpoint(mdir, hub, tok_json)
    log(f"checkpoint: {len(hub)} tensors, {total / 1e6:.2f} MB in {mdir}")

    def pack():
        if args.archive:
            with tarfile.open(args.archive + ".partial", "w") as tar:
                for sub in ("model", "reference"):
                    if os.path.isdir(os.path.join(args.out, sub)):
                        tar.add(os.path.join(args.out, sub), arcname=sub)
            os.replace(args.archive + ".partial", args.archive)
    pack()

    # --- reference data: the same model in float32, TF32 off, as the goldens' reference ---
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    model.eval()
    rdir = os.path.join(args.out, "reference")
    os.makedirs(rdir, exist_ok=True)
    ref = {"model": "transformers DeepseekV4ForCausalLM, float32 (TF32 off) on "
                    f"{torch.cuda.get_device_name(0)}, weights: the checkpoint's exact dequantization",
           "transformers": transformers.__version__, "torch": torch.__version__,
           "train_steps": step, "parameters": n_params}
    with torch.no_grad():
        nll = []
        for w in held:
            x = w[None].to(dev)
            logp = F.log_softmax(model(input_ids=x, use_cache=False).logits[0].float(), -1)
            nll.append(float(-logp[:-1].gather(1, x[0, 1:, None]).sum()))
        count = EVAL_WINDOWS * (EVAL_WINDOW - 1)
        np.save(os.path.join(rdir, "heldout_tokens.npy"), held.numpy().astype(np.int32))
        ref["perplexity"] = {"tokens": "heldout_tokens.npy", "windows": EVAL_WINDOWS,
                             "window": EVAL_WINDOW, "scored": count, "nll_sum": sum(nll),
                             "window_nll": nll, "perplexity": math.exp(sum(nll) / count)}
        log(f"held-out perplexity {ref['perplexity']['perplexity']:.4f} over {count} tokens")
        ref["greedy"] = []
        for name, text in PROMPTS:
            prompt = tok.encode(text).ids
            cache = DynamicCache(config=cfg)
            out = model(input_ids=torch.tensor([prompt], device=dev), past_key_values=cache,
                        use_cache=True).logits[0, -1]
            gen, margins = [], []
            for _ in range(GREEDY_TOKENS):
                top = torch.topk(out.float(), 2)
                gen.append(int(top.indices[0]))
                margins.append(float(top.values[0] - top.values[1]))
                out = model(input_ids=torch.tensor([[gen[-1]]], device=dev), past_key_values=cache,
                            use_cache=True).logits[0, -1]
            ref["greedy"].append({"name": name, "prompt_text": text, "prompt": prompt,
                                  "generated": gen, "min_top2_margin": min(margins),
                                  "steps_with_margin_below_1e-3": [i for i, m in enumerate(margins) if m < 1e-3]})
            log(f"greedy {name}: min top-2 margin {min(margins):.2e}; text: "
                + json.dumps(tok.decode(gen[:120], skip_special_tokens=False), ensure_ascii=False))
            with open(os.path.join(rdir, "reference.json"), "w") as f:
                json.dump(ref, f, indent=1, ensure_ascii=False)
            pack()
    log("done")


if __name__ == "__main__":
    main()
