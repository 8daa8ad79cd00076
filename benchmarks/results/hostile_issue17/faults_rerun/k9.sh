source /tmp/d_faults/common.sh
cd /tmp/d_faults
# uninterrupted reference: 60 steps
$PY -m sympo_ext.train.cli $(base) --output_dir full --max_steps 60 --save_steps 5 > full.log 2>&1; echo "full rc=$?"
# killed run
$PY -m sympo_ext.train.cli $(base) --output_dir k9 --max_steps 60 --save_steps 5 > k9a.log 2>&1 &
p=$!
while [ ! -f k9/checkpoints/latest ] || [ "$(cat k9/checkpoints/latest)" \< "step-000015" ]; do sleep 0.2; kill -0 $p 2>/dev/null || break; done
kill -9 $p; wait $p; echo "killed rc=$? latest=$(cat k9/checkpoints/latest) rows=$(grep -c train k9/metrics.csv)"
$PY -m sympo_ext.train.cli $(base) --output_dir k9 --max_steps 60 --save_steps 5 --resume > k9b.log 2>&1; echo "resume rc=$?"; tail -1 k9b.log
$PY - <<'P'
from safetensors.torch import load_file
a=load_file("full/final/model.safetensors"); b=load_file("k9/final/model.safetensors")
print("bit-identical:", a.keys()==b.keys() and all((a[k]==b[k]).all().item() for k in a))
import csv
ra=[(r["step"],r["split"],r["loss"]) for r in csv.DictReader(open("full/metrics.csv"))]
rb=[(r["step"],r["split"],r["loss"]) for r in csv.DictReader(open("k9/metrics.csv"))]
print("metrics identical:", ra==rb, len(ra), len(rb))
P
