"""Every quantization_config quarc exports, checked against the rules vLLM applies when it
loads a Quark checkpoint (reference/quark.md section 6.1, vLLM's QuarkConfig.from_config,
_find_matched_config and _get_scheme_from_config, re-implemented below), scheme by scheme.

For each scheme quarc exports (export_util.SCHEMES), `quarc quantize` writes the tiny Llama
as a Hugging Face directory, real_quantized and fake_quantized, and:
  - the config: quant_method "quark"; the `export` block is there (vLLM raises without it),
    its kv_cache_group a list; a non-empty group has layer_quant_config patterns matching
    it (fnmatch) whose output_tensors are all equal, fp8_e4m3 per_tensor (vLLM's KV-cache
    validation); exclude entries are exact module names or "re:" regexes naming a module
    (vLLM's should_ignore_layer has no wildcards);
  - every Linear vLLM builds (qkv_proj and gate_up_proj fused from their shards, whose
    configs must agree) resolves through layer_quant_config / layer_type_quant_config /
    global_quant_config, has no output_tensors or bias spec left after the KV stripping, and
    vLLM's detection table, in its order, gives the expected scheme (none, or another one,
    fails);
  - real_quantized: the tensors that scheme's create_weights registers are in the
    safetensors files with vLLM's dtypes and shapes (KV scales as k_proj/v_proj.output_scale).
The AWQ and fp8 custom modes are checked against vLLM's AWQConfig and Fp8Config readers.
"""
import fnmatch
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as xu  # noqa: E402

# The vLLM scheme each quarc scheme must be detected as.
EXPECTED = {
    "int8": "QuarkW8A8Int8/static",
    "int8_per_channel": "QuarkW8A8Int8/static",
    "int8_per_channel_dynamic": "QuarkW8A8Int8/dynamic",
    "fp8": "QuarkW8A8Fp8",
    "fp8_kv": "QuarkW8A8Fp8",
    "ptpc_fp8": "QuarkW8A8Fp8",
    "int4_wo_128": "QuarkW4A16Int4",
    "uint4_wo_128": "QuarkW4A16Int4",
    "int4_wo_per_channel": "QuarkW4A16Int4",
    "uint4_wo_per_channel": "QuarkW4A16Int4",
    "mxfp4": "QuarkOCP_MX",
    "mxfp6_e3m2": "QuarkOCP_MX",
    "mxfp6_e2m3": "QuarkOCP_MX",
    "nvfp4": "QuarkNVFP4",
}
# vLLM's packed_modules_mapping for Llama: fused layer -> shards.
PACKED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}


class VllmError(Exception):
    pass


# ---- vLLM's QuarkConfig, as reference/quark.md section 6.1 describes it ------------------------

def from_config(qc):
    """QuarkConfig.from_config: the KV-cache config (or None); strips the KV output_tensors
    from layer_quant_config like vLLM does (qc is modified)."""
    if qc.get("quant_method") != "quark":
        raise VllmError("quant_method is %r, not 'quark'" % qc.get("quant_method"))
    export = qc.get("export")
    if export is None:
        raise VllmError("the export key should be included in the configurations")
    group = export.get("kv_cache_group")
    if not isinstance(group, list):
        raise VllmError("export.kv_cache_group is %r, vLLM iterates a list" % (group,))
    if not isinstance(export.get("pack_method"), str):
        raise VllmError("export.pack_method is missing")
    if not group:
        return None
    lqc = qc.get("layer_quant_config")
    if not isinstance(lqc, dict):
        raise VllmError("kv_cache_group without a layer_quant_config")
    if not (set(group) <= set(lqc) or any(fnmatch.fnmatchcase(n, p) for n in lqc for p in group)):
        raise VllmError("kv_cache_group %s matches no layer_quant_config pattern" % group)
    matched = [c for n, c in lqc.items() if any(fnmatch.fnmatchcase(n, p) for p in group)]
    if any(c.get("output_tensors") != matched[0].get("output_tensors") for c in matched):
        raise VllmError("the kv_cache layers have different output_tensors")
    kv = matched[0].get("output_tensors")
    if kv is None:
        raise VllmError("the kv_cache quantization configuration is empty")
    for c in matched:
        c["output_tensors"] = None
    if isinstance(lqc.get("*q_proj"), dict):
        lqc["*q_proj"]["output_tensors"] = None
    # QuarkKVCacheMethod.validate_kv_cache_config
    if kv.get("dtype") != "fp8_e4m3" or kv.get("qscheme") != "per_tensor":
        raise VllmError("KV cache %s %s: vLLM supports fp8_e4m3 per_tensor" % (kv.get("dtype"), kv.get("qscheme")))
    return kv


def should_ignore(name, exclude):
    """should_ignore_layer for an unfused name: an exact name, or a "re:" regex."""
    for e in exclude or []:
        if e.startswith("re:"):
            if re.match(e[3:], name):
                return True
        elif e == name:
            return True
    return False


def find_matched_config(qc, name):
    proj = name.split(".")[-1]
    if proj in PACKED:
        cfgs = [find_matched_config(qc, name[: -len(proj)] + s) for s in PACKED[proj]]
        if any(c != cfgs[0] for c in cfgs):
            raise VllmError("%s: the shards %s have different configs" % (name, PACKED[proj]))
        return cfgs[0]
    for pat, cfg in (qc.get("layer_quant_config") or {}).items():
        if (name in pat) if "*" not in pat else fnmatch.fnmatch(name, pat):
            return cfg
    ltq = qc.get("layer_type_quant_config") or {}
    if "Linear" in ltq:  # vLLM keys by type(module); quarc's layers are Linear
        return ltq["Linear"]
    return qc.get("global_quant_config")


def _is_nvfp4(w, i):
    if not (isinstance(w, list) and len(w) == 2 and isinstance(i, list) and len(i) == 2):
        return False
    return (w[0].get("dtype") == "fp4" and w[0].get("qscheme") == "per_group" and w[0].get("group_size") == 16
            and not w[0].get("is_dynamic")
            and i[0].get("dtype") == "fp4" and i[0].get("qscheme") == "per_group" and i[0].get("group_size") == 16
            and i[0].get("is_dynamic")
            and w[1].get("dtype") == "fp8_e4m3" and w[1].get("qscheme") == "per_tensor" and not w[1].get("is_dynamic")
            and i[1].get("dtype") == "fp8_e4m3" and i[1].get("qscheme") == "per_tensor" and not i[1].get("is_dynamic"))


def _dicts(w, i):
    return isinstance(w, dict) and isinstance(i, dict)


def _is_fp8_w8a8(w, i):
    if not _dicts(w, i):
        return False
    if not (w.get("dtype") == "fp8_e4m3" and i.get("dtype") == "fp8_e4m3" and not w.get("is_dynamic")
            and w.get("qscheme") in ("per_tensor", "per_channel")):
        return False
    return bool(i.get("is_dynamic")) or i.get("qscheme") == "per_tensor"


def _is_static_tensor_w8a8(w, i):
    return (_dicts(w, i) and w.get("dtype") == "int8" and i.get("dtype") == "int8"
            and w.get("qscheme") in ("per_tensor", "per_channel") and i.get("qscheme") == "per_tensor"
            and not w.get("is_dynamic") and not i.get("is_dynamic") and w.get("symmetric") is True)


def _is_w4a8_mxfp4_fp8(w, i):
    return (_dicts(w, i) and w.get("dtype") == "fp4" and w.get("qscheme") == "per_group"
            and w.get("group_size") == 32 and w.get("scale_format") == "e8m0" and not w.get("is_dynamic")
            and i.get("dtype") == "fp8_e4m3" and i.get("qscheme") == "per_tensor"
            and not i.get("is_dynamic") and i.get("symmetric") is True)


def _is_dynamic_per_token_w8a8(w, i):
    return (_dicts(w, i) and w.get("dtype") == "int8" and i.get("dtype") == "int8"
            and w.get("qscheme") in ("per_tensor", "per_channel") and i.get("qscheme") == "per_channel"
            and i.get("is_dynamic") is True and w.get("symmetric") is True)


def _is_w_ocp_mx_a_x(w, i):
    return (isinstance(w, dict) and w.get("qscheme") == "per_group" and w.get("group_size") == 32
            and w.get("scale_format") == "e8m0" and w.get("dtype") in ("fp4", "fp6_e3m2", "fp6_e2m3"))


def _is_w4a16_int4(w, i):
    """Newer vLLM's QuarkW4A16Int4 (quark.md section 6.1): int4/uint4 static weights per group
    or per channel, no activation quantization."""
    return (isinstance(w, dict) and i is None and w.get("dtype") in ("int4", "uint4")
            and not w.get("is_dynamic") and w.get("qscheme") in ("per_group", "per_channel"))


def scheme_of(cfg):
    """_get_scheme_from_config: the scheme name, or VllmError."""
    if cfg.get("output_tensors") or cfg.get("bias"):
        raise VllmError("output_tensors or bias quantized: not supported")
    w, i = cfg.get("weight"), cfg.get("input_tensors")
    if _is_nvfp4(w, i):
        return "QuarkNVFP4"
    if _is_fp8_w8a8(w, i):
        return "QuarkW8A8Fp8"
    if _is_static_tensor_w8a8(w, i):
        return "QuarkW8A8Int8/static"
    if _is_w4a8_mxfp4_fp8(w, i):
        return "QuarkW4A8_MXFP4_FP8"
    if _is_dynamic_per_token_w8a8(w, i):
        return "QuarkW8A8Int8/dynamic"
    if _is_w_ocp_mx_a_x(w, i):
        # QuarkOCP_MX: static MX activations are NotImplemented
        if i is None or not isinstance(i, dict) or not i.get("is_dynamic"):
            raise VllmError("OCP MX weights need dynamic input quantization")
        return "QuarkOCP_MX"
    if _is_w4a16_int4(w, i):
        return "QuarkW4A16Int4"
    raise VllmError("no Quark-compatible scheme: weight %s, input %s" % (w, i))


def vllm_linears(cfg):
    """The Linear layers vLLM builds for a Llama config (fused names)."""
    out = []
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        out += [p + "self_attn.qkv_proj", p + "self_attn.o_proj", p + "mlp.gate_up_proj", p + "mlp.down_proj"]
    return out


def shards(name):
    proj = name.split(".")[-1]
    return [name[: -len(proj)] + s for s in PACKED[proj]] if proj in PACKED else [name]


def check_quark_config(qc, model_cfg, modules):
    """vLLM's view of a Quark quantization_config: {layer: scheme} and the KV config."""
    kv = from_config(qc)
    for e in qc.get("exclude") or []:
        if not e.startswith("re:") and e not in modules:
            raise VllmError("exclude entry %r is neither an exact module name nor a 're:' regex "
                            "(vLLM does not expand wildcards)" % e)
        if e.startswith("re:") and not any(re.match(e[3:], m) for m in modules):
            raise VllmError("exclude regex %r names no module" % e)
    schemes = {}
    for name in vllm_linears(model_cfg):
        ign = [should_ignore(s, qc.get("exclude")) for s in shards(name)]
        if any(ign) != all(ign):
            raise VllmError("%s: some shards are excluded, some not" % name)
        schemes[name] = None if ign[0] else scheme_of(find_matched_config(qc, name))
    if not should_ignore("lm_head", qc.get("exclude")):
        raise VllmError("lm_head is quantized (the presets exclude it)")
    return schemes, kv


# ---- tensors vLLM's create_weights registers --------------------------------------------------

def check_tensors(t, scheme, qc, layers, kv, test):
    """Real-quantized tensors of each quantized shard, as the detected vLLM scheme loads them."""
    for fused in layers:
        for m in shards(fused):
            w = t.get(m + ".weight")
            test.assertIsNotNone(w, m + ".weight")
            cfg = find_matched_config(qc, m)
            wq, iq = cfg["weight"], cfg["input_tensors"]
            sc = t.get(m + ".weight_scale")
            test.assertIsNotNone(sc, m + ".weight_scale")
            where = "%s (%s)" % (m, scheme)
            if scheme == "QuarkW8A8Fp8":
                test.assertEqual(w[0], "F8_E4M3", where)
                test.assertEqual(sc[0], "F32", where)
                if wq["qscheme"] == "per_tensor":  # one scalar per shard
                    test.assertIn(sc[1], ([], [1]), where)
                else:
                    test.assertEqual(sc[1], [w[1][0]], where)
                if not iq["is_dynamic"]:
                    test.assertEqual(t.get(m + ".input_scale", (None, None))[0], "F32", where + " input_scale")
                else:
                    test.assertNotIn(m + ".input_scale", t, where)
            elif scheme.startswith("QuarkW8A8Int8"):
                test.assertEqual(w[0], "I8", where)
                test.assertEqual(sc[0], "F32", where)
                test.assertEqual(t.get(m + ".weight_zero_point", (None,))[0], "I8", where)
                if scheme.endswith("static"):
                    test.assertEqual(t[m + ".input_scale"][0], "F32", where)
                    test.assertIn(t.get(m + ".input_zero_point", ("I8",))[0], ("I8", "U8"), where)
            elif scheme == "QuarkOCP_MX":
                bits = 4 if wq["dtype"] == "fp4" else 6
                out_f, packed = w[1]
                test.assertEqual(w[0], "U8", where)
                test.assertEqual(sc, ("U8", [out_f, packed * 8 // bits // 32]), where)
                test.assertNotIn(m + ".input_scale", t, where)
            elif scheme == "QuarkNVFP4":
                test.assertEqual(w[0], "U8", where)
                test.assertEqual(sc, ("F8_E4M3", [w[1][0], w[1][1] * 2 // 16]), where)
                test.assertEqual(t.get(m + ".weight_scale_2"), ("F32", []), where)
                test.assertEqual(t.get(m + ".input_scale_2"), ("F32", []), where)
            elif scheme == "QuarkW4A16Int4":
                test.assertEqual(w[0], "I32", where)
                zp = t.get(m + ".weight_zero_point")
                test.assertIsNotNone(zp, where)
                test.assertEqual(zp[0], "I32", where)
                if wq["qscheme"] == "per_group":  # [in, out/8], scales [in/G, out]
                    n_in, n_out8 = w[1]
                    G = wq["group_size"]
                    test.assertEqual(sc[1], [n_in // G, n_out8 * 8], where)
                    test.assertEqual(zp[1], [n_in // G, n_out8], where)
    if kv is not None:
        for fused in layers:
            for m in shards(fused):
                if m.endswith(("k_proj", "v_proj")):
                    test.assertEqual(t.get(m + ".output_scale"), ("F32", []), m + ".output_scale (KV cache)")
    elif any(k.endswith(".output_scale") for k in t):
        test.fail("output scales without a KV-cache config")


class VllmRules(xu.TinyModelTest):
    def modules(self, t):
        return {k.rsplit(".", 1)[0] for k in t if k.endswith(".weight")}

    def test_quark_configs_detected_as_expected(self):
        for scheme, want in EXPECTED.items():
            for wf in ("real_quantized", "fake_quantized"):
                with self.subTest(scheme=scheme, weight_format=wf):
                    out = os.path.join(self.tmp, "%s_%s" % (scheme, wf))
                    self.m.quantize(scheme, out, "--weight-format", wf)
                    qc = xu.quantization_config(out)
                    self.assertEqual(qc["export"]["weight_format"], wf)
                    t = xu.safetensors_headers(out)
                    try:
                        schemes, kv = check_quark_config(qc, self.m.cfg, self.modules(t))
                    except VllmError as e:
                        self.fail("%s: vLLM would reject the config: %s" % (scheme, e))
                    got = set(schemes.values())
                    self.assertEqual(got, {want}, "%s: vLLM detects %s" % (scheme, got))
                    self.assertEqual(kv is not None, scheme == "fp8_kv", "%s: KV-cache config %s" % (scheme, kv))
                    if wf == "real_quantized":
                        check_tensors(t, want, qc, list(schemes), kv, self)
                    print("ok %-26s %-15s -> %s%s" % (scheme, wf, want, " + fp8 KV cache" if kv else ""))

    def test_rules_catch_bad_configs(self):
        """The re-implemented rules reject what vLLM rejects (so the test above can fail)."""
        out = os.path.join(self.tmp, "bad_fp8_kv")
        self.m.quantize("fp8_kv", out)
        mods = self.modules(xu.safetensors_headers(out))
        good = xu.quantization_config(out)

        def rejected(edit):
            qc = xu.quantization_config(out)
            edit(qc)
            with self.assertRaises(VllmError):
                check_quark_config(qc, self.m.cfg, mods)

        check_quark_config(good, self.m.cfg, mods)
        rejected(lambda qc: qc.pop("export"))
        rejected(lambda qc: qc["export"].__setitem__("kv_cache_group", None))
        rejected(lambda qc: qc["export"].__setitem__("kv_cache_group", ["*o_proj"]))
        rejected(lambda qc: qc["layer_quant_config"]["*v_proj"]["output_tensors"].__setitem__("dtype", "int8"))
        rejected(lambda qc: qc["global_quant_config"].__setitem__("output_tensors", qc["global_quant_config"]["weight"]))
        rejected(lambda qc: qc["global_quant_config"].__setitem__("input_tensors", None))
        rejected(lambda qc: qc.__setitem__("exclude", ["lm_head*"]))

    def test_custom_modes(self):
        """AWQ (vLLM AWQConfig.from_config) and fp8 (Fp8Config.from_config) configs and names."""
        for scheme in sorted(xu.AWQ_SCHEMES):
            with self.subTest(mode="awq", scheme=scheme):
                out = os.path.join(self.tmp, "awq_" + scheme)
                self.m.quantize(scheme, out, "--format", "awq")
                qc = xu.quantization_config(out)
                self.assertEqual(qc["quant_method"], "awq")
                bits = qc.get("w_bit", qc.get("bits"))
                self.assertEqual(bits, 4, "vLLM's AWQ takes 4-bit weights only")
                G = qc.get("q_group_size", qc.get("group_size"))
                self.assertEqual(G, 128)
                self.assertEqual(qc["zero_point"], scheme.startswith("uint4"))
                self.assertIsInstance(qc.get("modules_to_not_convert", []), list)
                t = xu.safetensors_headers(out)
                for fused in vllm_linears(self.m.cfg):
                    for m in shards(fused):
                        qw, qz, s = t[m + ".qweight"], t[m + ".qzeros"], t[m + ".scales"]
                        self.assertEqual(qw[0], "I32")
                        self.assertEqual(qz, ("I32", [qw[1][0] // G, qw[1][1]]), m)
                        self.assertEqual(s[1], [qw[1][0] // G, qw[1][1] * 8], m)
                        self.assertNotIn(m + ".weight", t)
        for scheme in sorted(xu.FP8_SCHEMES):
            with self.subTest(mode="fp8", scheme=scheme):
                out = os.path.join(self.tmp, "fp8_" + scheme)
                self.m.quantize(scheme, out, "--format", "fp8")
                qc = xu.quantization_config(out)
                self.assertIn("fp8", qc["quant_method"])
                self.assertIn(qc["activation_scheme"], ("static", "dynamic"))
                self.assertIsInstance(qc.get("ignored_layers", []), list)
                self.assertEqual(qc.get("kv_cache_scheme"), "static" if scheme == "fp8_kv" else None)
                t = xu.safetensors_headers(out)
                for fused in vllm_linears(self.m.cfg):
                    for m in shards(fused):
                        self.assertEqual(t[m + ".weight"][0], "F8_E4M3", m)
                        self.assertEqual(t[m + ".weight_scale"], ("F32", []), m)
                        self.assertEqual(t[m + ".input_scale"], ("F32", []), m)
                kv = [k for k in t if k.endswith((".k_scale", ".v_scale"))]
                self.assertEqual(len(kv), 2 * self.m.cfg["num_hidden_layers"] if scheme == "fp8_kv" else 0, kv)


if __name__ == "__main__":
    unittest.main(verbosity=1)
