n=0
mk() { n=$((n+1)); id=$(printf 'P%02d' $n); { echo "# class: ops (python API)"; echo "# case: $1"; echo "source /tmp/wh/cases/lib.sh"; echo "cat > p.py <<'PYEOF'"; echo "import torch, math, sympo_ext"; echo "R = sympo_ext.reference"; echo "def A(v, m): print(f'AUTO={v}|{m}')"; echo "def close(a, b, tol=1e-5): return torch.allclose(a.double(), b.double(), atol=tol, rtol=tol, equal_nan=True)"; cat; echo "PYEOF"; echo 'K $PY p.py'; echo 'a=$(grep -m1 "^AUTO=" key.out); if [ -n "$a" ]; then echo "$a"; tailk 2; elif tb; then V traceback "rc $RC"; else V unclear "rc $RC no verdict"; fi'; } > $id.sh; }
mk "double backward through sym_loss (sigmoid, logistic, aot) vs the reference (create_graph gradient penalty)" <<'EOF'
torch.manual_seed(0)
bad = []
for lt in ["sigmoid", "logistic", "ramp", "aot", "nca_pair"]:
    x = [torch.randn(6, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    ref = [torch.randn(6, dtype=torch.float64) for _ in range(2)]
    res = []
    for f in (sympo_ext.sym_loss, R.sym_loss):
        l = f(x[0], x[1], ref[0], ref[1], loss_type=lt, beta=0.7)
        g = torch.autograd.grad(l, x, create_graph=True)
        pen = sum((gi ** 2).sum() for gi in g)
        res.append(torch.autograd.grad(pen, x))
    for a, b in zip(*res):
        if not close(a, b, 1e-8): bad.append((lt, (a - b).abs().max().item()))
A("handled" if not bad else "silent-wrong", f"second derivatives equal the reference for 5 losses" if not bad else str(bad))
EOF
mk "double backward through sequence_logps vs reference" <<'EOF'
torch.manual_seed(0)
lg = torch.randn(3, 5, 11, dtype=torch.float64, requires_grad=True); lab = torch.randint(0, 11, (3, 5)); lab[0, :2] = -100
res = []
for f in (sympo_ext.sequence_logps, R.sequence_logps):
    y = f(lg, lab); g, = torch.autograd.grad((y * torch.arange(1., 4, dtype=torch.float64)).sum(), lg, create_graph=True)
    res.append(torch.autograd.grad((g ** 2).sum(), lg)[0])
d = (res[0] - res[1]).abs().max().item()
A("handled" if d < 1e-10 else "silent-wrong", f"max diff {d}")
EOF
mk "double backward through fused_linear_sequence_logps (hidden, weight, bias) vs logits + reference" <<'EOF'
torch.manual_seed(0)
h = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True); w = torch.randn(13, 8, dtype=torch.float64, requires_grad=True); b = torch.randn(13, dtype=torch.float64, requires_grad=True)
lab = torch.randint(0, 13, (2, 4)); lab[1, 0] = -100
res = []
for k in range(2):
    y = sympo_ext.fused_linear_sequence_logps(h, w, lab, bias=b, chunk_size=3) if k == 0 else R.sequence_logps(h @ w.T + b, lab)
    g = torch.autograd.grad(y.sum(), (h, w, b), create_graph=True)
    res.append(torch.autograd.grad(sum((gi ** 2).sum() for gi in g), (h, w, b)))
d = max((a - c).abs().max().item() for a, c in zip(*res))
A("handled" if d < 1e-9 else "silent-wrong", f"max diff {d}")
EOF
mk "ramp at its kinks s = 0 and s = 1: gradient is the midpoint (-1/2 per beta), kernel == reference" <<'EOF'
out = []
for s in (0.0, 1.0):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        l = f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="ramp", beta=1.0)
        l.backward(); out.append(c.grad.item())
ok = all(abs(v + 0.5) < 1e-6 for v in out)
A("handled" if ok else "silent-wrong", f"d l / d chosen at s=0,1 (kernel, ref): {out}")
EOF
mk "hinge at its kink s = 1 (midpoint -1/2), kernel == reference; and just off the kink" <<'EOF'
out = []
for s in (1.0, 1.0 - 1e-3, 1.0 + 1e-3):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="hinge", beta=1.0).backward(); out.append(round(c.grad.item(), 6))
ok = out == [-0.5, -0.5, -1.0, -1.0, 0.0, 0.0]
A("handled" if ok else "silent-wrong", f"grads {out}")
EOF
mk "symmetric_ramp kinks (slope 0.25: s = +-2) midpoint and l'(s) = l'(-s), kernel == reference" <<'EOF'
out = []
for s in (2.0, -2.0):
    for f in (sympo_ext.sym_loss, R.sym_loss):
        c = torch.tensor([s], requires_grad=True)
        f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="symmetric_ramp", slope=0.25, beta=1.0).backward(); out.append(c.grad.item())
ok = all(abs(v + 0.125) < 1e-7 for v in out)
A("handled" if ok else "silent-wrong", f"grads at s=2,-2 (kernel, ref): {out} (expect -0.125)")
EOF
mk "reward exactly at the clip bound: half the gradient; kernel == reference" <<'EOF'
out = []
for f in (sympo_ext.sym_loss, R.sym_loss):
    c = torch.tensor([2.0], requires_grad=True)
    f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="logistic", beta=0.5, clip=1.0).backward(); out.append(c.grad.item())
c = torch.tensor([2.0]); s = 1.0; full = -0.5 * torch.sigmoid(torch.tensor(-s)).item()
ok = all(abs(v - full / 2) < 1e-6 for v in out)
A("handled" if ok else "silent-wrong", f"{out} expected {full/2}")
EOF
mk "invalid labels on CPU: 2, -1, 0.5, NaN (float), bool True" <<'EOF'
res = []
for lab in (torch.tensor([1, 2]), torch.tensor([1, -1]), torch.tensor([1.0, 0.5]), torch.tensor([1.0, float("nan")]), torch.tensor([True, False])):
    try:
        l = sympo_ext.sym_loss(torch.zeros(2), torch.zeros(2), torch.zeros(2), torch.zeros(2), labels=lab)
        res.append(f"{lab.tolist()}: accepted {l.item():.4f}")
    except Exception as e:
        res.append(f"{lab.tolist()}: {type(e).__name__}: {str(e).splitlines()[0][:90]}")
print("\n".join(res))
acc = [r for r in res[:4] if "accepted" in r]
A("handled" if not acc else "silent-wrong", "invalid labels raise; " + res[4][:60] if not acc else "accepted: " + "; ".join(acc))
EOF
mk "empty batch: reduction mean NaN, sum 0, none empty; backward of each" <<'EOF'
res = []
for red in ("mean", "sum", "none"):
    x = torch.zeros(0, requires_grad=True)
    l = sympo_ext.sym_loss(x, torch.zeros(0), torch.zeros(0), torch.zeros(0), reduction=red)
    l.sum().backward(); res.append((red, l.detach().tolist() if l.dim() else l.item(), tuple(x.grad.shape)))
ok = math.isnan(res[0][1]) and res[1][1] == 0 and res[2][1] == []
A("handled" if ok else "silent-wrong", str(res))
EOF
mk "torch.func.grad of sym_loss (sigmoid, hinge, aot) == the reference's" <<'EOF'
from torch.func import grad
torch.manual_seed(1); bad = []
a, b, c, d = (torch.randn(5) for _ in range(4))
for lt in ("sigmoid", "hinge", "aot", "apo_zero"):
    g1 = grad(lambda x: sympo_ext.sym_loss(x, b, c, d, loss_type=lt))(a)
    g2 = grad(lambda x: R.sym_loss(x, b, c, d, loss_type=lt))(a)
    if not close(g1, g2, 1e-6): bad.append(lt)
A("handled" if not bad else "silent-wrong", "equal" if not bad else f"differ: {bad}")
EOF
mk "torch.func.vmap of sym_loss over a leading dim == a loop" <<'EOF'
from torch.func import vmap
torch.manual_seed(2); X = [torch.randn(3, 5) for _ in range(4)]
v = vmap(lambda a, b, c, d: sympo_ext.sym_loss(a, b, c, d, loss_type="sigmoid"))(*X)
l = torch.stack([sympo_ext.sym_loss(*(x[i] for x in X)) for i in range(3)])
A("handled" if close(v, l, 1e-6) else "silent-wrong", f"{v.tolist()} vs {l.tolist()}")
EOF
mk "torch.func.hessian of sym_loss (logistic) == reference's, and jvp" <<'EOF'
from torch.func import hessian, jvp
torch.manual_seed(3); a, b, c, d = (torch.randn(4, dtype=torch.float64) for _ in range(4))
h1 = hessian(lambda x: sympo_ext.sym_loss(x, b, c, d, loss_type="logistic"))(a)
h2 = hessian(lambda x: R.sym_loss(x, b, c, d, loss_type="logistic"))(a)
t = torch.randn(4, dtype=torch.float64)
j1 = jvp(lambda x: sympo_ext.sym_loss(x, b, c, d), (a,), (t,))[1]; j2 = jvp(lambda x: R.sym_loss(x, b, c, d), (a,), (t,))[1]
A("handled" if close(h1, h2, 1e-10) and close(j1, j2, 1e-10) else "silent-wrong", f"hess diff {(h1-h2).abs().max().item()} jvp diff {(j1-j2).abs().item()}")
EOF
mk "fused_linear_sequence_logps with no rows (hidden [0, T, H]) forward + backward" <<'EOF'
h = torch.randn(0, 4, 8, requires_grad=True); w = torch.randn(13, 8, requires_grad=True)
y = sympo_ext.fused_linear_sequence_logps(h, w, torch.zeros(0, 4, dtype=torch.long))
y.sum().backward()
A("handled" if y.shape == (0,) and h.grad.shape == h.shape and float(w.grad.abs().sum()) == 0 else "silent-wrong", f"y {tuple(y.shape)} gh {tuple(h.grad.shape)} gw sum {float(w.grad.abs().sum())}")
EOF
mk "fused_linear_sequence_logps with T = 0 (hidden [2, 0, H]) and packed with zero tokens" <<'EOF'
h = torch.randn(2, 0, 8, requires_grad=True); w = torch.randn(13, 8, requires_grad=True)
y = sympo_ext.fused_linear_sequence_logps(h, w, torch.zeros(2, 0, dtype=torch.long)); y.sum().backward()
hp = torch.randn(0, 8, requires_grad=True)
yp = sympo_ext.fused_linear_sequence_logps(hp, w, torch.zeros(0, dtype=torch.long), cu_seqlens=torch.tensor([0, 0, 0]))
A("handled" if y.tolist() == [0.0, 0.0] and yp.tolist() == [0.0, 0.0] else "silent-wrong", f"{y.tolist()} {yp.tolist()}")
EOF
mk "sequence_logps: a row with every label ignored: 0 (sum and average), zero gradient" <<'EOF'
lg = torch.randn(2, 3, 7, requires_grad=True); lab = torch.tensor([[1, 2, 3], [-100, -100, -100]])
y = sympo_ext.sequence_logps(lg, lab); ya = sympo_ext.sequence_logps(lg, lab, average=True)
(y.sum() + ya.sum()).backward()
ok = y[1].item() == 0 and ya[1].item() == 0 and float(lg.grad[1].abs().sum()) == 0 and close(y, R.sequence_logps(lg, lab))
A("handled" if ok else "silent-wrong", f"{y.tolist()} {ya.tolist()}")
EOF
mk "sequence_logps: a label equal to V (out of range) on CPU" <<'EOF'
try:
    y = sympo_ext.sequence_logps(torch.randn(1, 3, 7), torch.tensor([[1, 7, 2]])); A("silent-wrong", f"accepted: {y.tolist()}")
except Exception as e:
    m = str(e).splitlines()[0]; print(type(e).__name__, m[:200]); A("handled" if "7" in m or "range" in m.lower() else "unclear", m[:120])
EOF
mk "sym_loss weights: negative raises, NaN gives NaN for that pair only (reduction none)" <<'EOF'
z = torch.zeros(3)
try:
    sympo_ext.sym_loss(z, z, z, z, weights=torch.tensor([1., -1., 1.])); neg = "accepted"
except Exception as e: neg = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
l = sympo_ext.sym_loss(z, z, z, z, weights=torch.tensor([1., float("nan"), 1.]), reduction="none")
ok = neg != "accepted" and math.isnan(l[1].item()) and not math.isnan(l[0].item())
A("handled" if ok else "silent-wrong", f"neg: {neg}; nan: {l.tolist()}")
EOF
mk "zero-stride (expanded) and non-contiguous inputs == contiguous, values and gradients" <<'EOF'
torch.manual_seed(4)
base = torch.randn(1, requires_grad=True); c = base.expand(6)
big = torch.randn(12, requires_grad=True); r = big[::2]
l1 = sympo_ext.sym_loss(c, r, torch.zeros(6), torch.zeros(6), loss_type="logistic"); l1.backward()
g1 = (base.grad.clone(), big.grad.clone()); base.grad = None; big.grad = None
l2 = R.sym_loss(c, r, torch.zeros(6), torch.zeros(6), loss_type="logistic"); l2.backward()
ok = close(l1, l2) and close(g1[0], base.grad) and close(g1[1], big.grad)
A("handled" if ok else "silent-wrong", f"{l1.item()} {l2.item()} {g1[0].tolist()} {base.grad.tolist()}")
EOF
mk "sym_loss loss_type list containing 'sft' (only the modules know it)" <<'EOF'
z = torch.zeros(2)
try:
    sympo_ext.sym_loss(z, z, z, z, loss_type=["sigmoid", "sft"]); A("silent-wrong", "accepted")
except Exception as e:
    m = str(e).splitlines()[0]; print(type(e).__name__, m[:200]); A("handled" if "sft" in m else "unclear", m[:150])
EOF
mk "logistic at s = -inf: loss inf, gradient -beta (limit), kernel == reference" <<'EOF'
out = []
for f in (sympo_ext.sym_loss, R.sym_loss):
    c = torch.tensor([float("-inf")], requires_grad=True)
    l = f(c, torch.zeros(1), torch.zeros(1), torch.zeros(1), loss_type="logistic", beta=0.5); l.backward(); out.append((l.item(), c.grad.item()))
ok = all(v == (float("inf"), -0.5) for v in out)
A("handled" if ok else "silent-wrong", str(out))
EOF
mk "sym_loss with mixed dtypes (bf16 chosen, fp64 ref): math fp64, grads in the input dtypes" <<'EOF'
c = torch.randn(4).bfloat16().requires_grad_(); r = torch.randn(4, requires_grad=True)
l = sympo_ext.sym_loss(c, r, torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64))
l.backward()
A("handled" if l.dtype == torch.float64 and c.grad.dtype == torch.bfloat16 and r.grad.dtype == torch.float32 else "silent-wrong", f"loss {l.dtype} gc {c.grad.dtype} gr {r.grad.dtype}")
EOF
mk "SymPOLoss with nll_weight: loss = sigmoid loss + w * per-token NLL of chosen (independent computation)" <<'EOF'
torch.manual_seed(5)
B, T, V = 2, 4, 9
lg = torch.randn(2 * B, T, V, dtype=torch.float64); tg = torch.randint(0, V, (2 * B, T)); tg[:, 0] = -100
rc, rr = torch.randn(B, dtype=torch.float64), torch.randn(B, dtype=torch.float64)
fn = sympo_ext.SymPOLoss("sigmoid", beta=0.1, nll_weight=0.3)
loss, met = fn(lg, tg, rc, rr)
lp = R.sequence_logps(lg, tg)
base = R.sym_loss(lp[:B], lp[B:], rc, rr, loss_type="sigmoid", beta=0.1, reduction="none")
nll = -R.sequence_logps(lg[:B], tg[:B], average=True)
exp = (base + 0.3 * nll).mean()
A("handled" if close(loss, exp, 1e-9) else "silent-wrong", f"{loss.item()} vs {exp.item()}")
EOF
