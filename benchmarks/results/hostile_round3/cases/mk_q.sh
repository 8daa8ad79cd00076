n=0
mk() { n=$((n+1)); id=$(printf 'Q%02d' $n); { echo "# class: TRL integration"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; echo "cat > p.py <<'PYEOF'"; echo "import sys; sys.path.insert(0, '/tmp/wh/cases'); from trlh import *"; cat; echo "PYEOF"; echo 'K $PY p.py'; echo 'a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi'; } > $id.sh; }
mk "loss_type='sigmoid' (a DPOConfig ported verbatim)" <<'EOF'
refused(lambda: cfg(loss_type="sigmoid"), "sigmoid")
EOF
mk "loss_type=['sigmoid'] explicit list (TRL's default value, set explicitly)" <<'EOF'
refused(lambda: cfg(loss_type=["sigmoid"]), "sigmoid")
EOF
mk "label_smoothing=0.1 + sympo_epsilon=0.2 with cdpo (disagree)" <<'EOF'
refused(lambda: cfg(sympo_loss_type="cdpo", sympo_epsilon=0.2, label_smoothing=0.1), "label_smoothing")
EOF
mk "label_smoothing=0.05 with exo_pair: mapped (loss equals sympo_epsilon=0.05)" <<'EOF'
_, a = train(cfg(sympo_loss_type="exo_pair", label_smoothing=0.05)); _, b = train(cfg(sympo_loss_type="exo_pair", sympo_epsilon=0.05)); _, c = train(cfg(sympo_loss_type="exo_pair"))
la, lb, lc = a[0]["loss"], b[0]["loss"], c[0]["loss"]; print(la, lb, lc)
A("handled" if abs(la - lb) < 1e-7 and abs(la - lc) > 1e-6 else "silent-wrong", f"ls {la} eps {lb} default {lc}")
EOF
mk "label_smoothing=0.1 with the default sympo loss (sigmoid)" <<'EOF'
refused(lambda: cfg(label_smoothing=0.1), "label_smoothing")
EOF
mk "discopop_tau=0.3 with discopop: honoured (equals sympo_tau=0.3, differs from default)" <<'EOF'
_, a = train(cfg(sympo_loss_type="discopop", discopop_tau=0.3)); _, b = train(cfg(sympo_loss_type="discopop", sympo_tau=0.3)); _, c = train(cfg(sympo_loss_type="discopop"))
la, lb, lc = a[0]["loss"], b[0]["loss"], c[0]["loss"]; print(la, lb, lc)
A("handled" if abs(la - lb) < 1e-7 and abs(la - lc) > 1e-7 else "silent-wrong", f"discopop_tau {la} sympo_tau {lb} default {lc}")
EOF
mk "sympo_loss_type=['logistic','sft'] (sft in the list)" <<'EOF'
refused(lambda: cfg(sympo_loss_type=["logistic", "sft"]), "nll_weight")
EOF
mk "sympo_temperature=3 with sympo_loss_type=['sigmoid','logistic']: honoured (loss changes)" <<'EOF'
_, a = train(cfg(sympo_loss_type=["sigmoid", "logistic"], sympo_temperature=3.0)); _, b = train(cfg(sympo_loss_type=["sigmoid", "logistic"]))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) > 1e-6 else "silent-wrong", f"temp3 {la} default {lb}")
EOF
mk "sympo_temperature with a list without sigmoid" <<'EOF'
refused(lambda: cfg(sympo_loss_type=["logistic", "hinge"], sympo_temperature=3.0), "temperature")
EOF
mk "sympo_clip with a list holding aot" <<'EOF'
refused(lambda: cfg(sympo_loss_type=["logistic", "aot"], sympo_clip=1.0), "clip")
EOF
mk "sympo_loss_weights=[3.0] with one loss (honoured: 3x)" <<'EOF'
_, a = train(cfg(sympo_loss_type="logistic", sympo_loss_weights=[3.0])); _, b = train(cfg(sympo_loss_type="logistic"))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - 3 * lb) < 1e-6 else "silent-wrong", f"{la} vs 3 x {lb}")
EOF
mk "sympo_loss_weights length mismatch" <<'EOF'
refused(lambda: cfg(sympo_loss_type=["logistic", "hinge"], sympo_loss_weights=[1.0, 2.0, 3.0]), "loss_weights")
EOF
mk "ld_alpha=0.5" <<'EOF'
refused(lambda: cfg(ld_alpha=0.5), "ld_alpha")
EOF
mk "use_weighting=True" <<'EOF'
refused(lambda: cfg(use_weighting=True), "use_weighting")
EOF
mk "f_divergence_type='alpha_divergence'" <<'EOF'
refused(lambda: cfg(f_divergence_type="alpha_divergence"), "f_divergence")
EOF
mk "beta honoured: the first loss equals the sigmoid formula on the logged margins at beta 0.5 vs 0.2" <<'EOF'
_, a = train(cfg(beta=0.5, per_device_train_batch_size=1)); _, b = train(cfg(beta=0.2, per_device_train_batch_size=1))
s5, s2 = a[0]["rewards/margins"], b[0]["rewards/margins"]
ok = abs(a[0]["loss"] - 1 / (1 + math.exp(s5))) < 1e-6 and abs(s5 / s2 - 2.5) < 1e-4
A("handled" if ok else "silent-wrong", f"loss {a[0]['loss']} f(s)={1/(1+math.exp(s5))} margins ratio {s5/s2}")
EOF
mk "sympo_nll_weight=0.5 honoured and logged as nll_loss" <<'EOF'
_, a = train(cfg(sympo_loss_type="logistic", sympo_nll_weight=0.5)); _, b = train(cfg(sympo_loss_type="logistic"))
la, lb, nll = a[0]["loss"], b[0]["loss"], a[0].get("nll_loss")
print(la, lb, nll)
A("handled" if nll is not None and abs(la - (lb + 0.5 * nll)) < 1e-5 else "silent-wrong", f"{la} vs {lb} + 0.5 x {nll}")
EOF
mk "label_smoothing=0.1 with rdpo: mapped (equals sympo_epsilon=0.1)" <<'EOF'
_, a = train(cfg(sympo_loss_type="rdpo", label_smoothing=0.1)); _, b = train(cfg(sympo_loss_type="rdpo", sympo_epsilon=0.1))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) < 1e-7 else "silent-wrong", f"{la} vs {lb}")
EOF
mk "loss_type='sft' alone" <<'EOF'
refused(lambda: cfg(loss_type="sft"), "nll_weight")
EOF
mk "sympo_epsilon=nan with cdpo" <<'EOF'
refused(lambda: cfg(sympo_loss_type="cdpo", sympo_epsilon=float("nan")), "epsilon")
EOF
mk "config mutated after construction: cfg.label_smoothing = 0.1 (sigmoid), then train" <<'EOF'
c = cfg(); c.label_smoothing = 0.1
refused(lambda: train(c), "label_smoothing")
EOF
mk "config mutated after construction: cfg.loss_type = ['ipo'], then train" <<'EOF'
c = cfg(); c.loss_type = ["ipo"]
refused(lambda: train(c), "loss_type")
EOF
mk "config mutated after construction: cfg.sympo_loss_type = 'logistic' after sympo_temperature was set" <<'EOF'
c = cfg(sympo_temperature=2.0); c.sympo_loss_type = "logistic"
refused(lambda: train(c), "temperature")
EOF
mk "label_smoothing with a list ['cdpo','logistic']: mapped to cdpo's epsilon (loss differs from ls=0)" <<'EOF'
try:
    _, a = train(cfg(sympo_loss_type=["cdpo", "logistic"], label_smoothing=0.2)); _, b = train(cfg(sympo_loss_type=["cdpo", "logistic"], sympo_epsilon=0.2))
    la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
    A("handled" if abs(la - lb) < 1e-7 else "silent-wrong", f"ls {la} vs eps {lb}")
except ValueError as e:
    print(e); A("handled" if "label_smoothing" in str(e) else "unclear", str(e)[:150])
EOF
mk "discopop_tau with a list including discopop" <<'EOF'
try:
    _, a = train(cfg(sympo_loss_type=["discopop", "logistic"], discopop_tau=0.3)); _, b = train(cfg(sympo_loss_type=["discopop", "logistic"], sympo_tau=0.3))
    la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
    A("handled" if abs(la - lb) < 1e-7 else "silent-wrong", f"discopop_tau {la} vs sympo_tau {lb}")
except ValueError as e:
    print(e); A("handled" if "discopop_tau" in str(e) else "unclear", str(e)[:150])
EOF
mk "precompute_ref_log_probs=True: first loss equal to the live reference's" <<'EOF'
_, a = train(cfg(sympo_loss_type="logistic", precompute_ref_log_probs=True)); _, b = train(cfg(sympo_loss_type="logistic"))
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) < 1e-6 else "silent-wrong", f"{la} vs {lb}")
EOF
mk "sympo_logps_path='fused_linear' forced on the tiny Llama" <<'EOF'
refused(lambda: train(cfg(sympo_logps_path="fused_linear")), "fused_linear")
EOF
mk "a label column of all 0 == the swapped dataset (first loss)" <<'EOF'
from datasets import Dataset
d = data(); rows = d.to_list()
l0 = Dataset.from_list([dict(r, label=0) for r in rows]); sw = Dataset.from_list([dict(r, chosen=r["rejected"], rejected=r["chosen"]) for r in rows])
_, a = train(cfg(sympo_loss_type="logistic"), ds=l0); _, b = train(cfg(sympo_loss_type="logistic"), ds=sw)
la, lb = a[0]["loss"], b[0]["loss"]; print(la, lb)
A("handled" if abs(la - lb) < 1e-6 else "silent-wrong", f"label0 {la} vs swapped {lb}")
EOF
mk "a label column with a value 2" <<'EOF'
from datasets import Dataset
rows = data().to_list(); rows[1]["label"] = 2; rows = [dict(r, label=r.get("label", 1)) for r in rows]
refused(lambda: train(cfg(), ds=Dataset.from_list(rows)), "label")
EOF
