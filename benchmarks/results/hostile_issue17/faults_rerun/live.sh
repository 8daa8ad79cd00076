source /tmp/d_faults/common.sh
cd /tmp/d_faults; rm -rf live
$PY -m sympo_ext.train.cli $(base) --output_dir live --max_steps 100000 --save_steps 50 > livea.log 2>&1 &
p=$!
while [ ! -f live/metrics.csv ] || [ $(wc -l < live/metrics.csv) -lt 3 ]; do sleep 0.2; done
$PY -m sympo_ext.train.cli $(base) --output_dir live --max_steps 2 --overwrite > liveb.log 2>&1; echo "second --overwrite rc=$?"; tail -1 liveb.log
$PY -m sympo_ext.train.cli $(base) --output_dir live --max_steps 2 --resume > livec.log 2>&1; echo "second --resume rc=$?"; tail -1 livec.log
echo "first alive: $(kill -0 $p && echo yes); run.json still there: $(ls live/run.json)"
kill -TERM $p; wait $p; echo "first after SIGTERM rc=$?"; tail -1 livea.log; echo "latest=$(cat live/checkpoints/latest)"
