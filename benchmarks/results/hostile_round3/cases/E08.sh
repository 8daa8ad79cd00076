# class: extend a finished run
# case: extend twice 2 -> 4 -> 6 (rows, run.json max_steps)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 2 > /dev/null 2>&1
TA --output_dir o --max_steps 4 --resume > /dev/null 2>&1
K TA --output_dir o --max_steps 6 --resume
rows=$(cut -d, -f1 o/metrics.csv | paste -sd' '); ms=$($PY -c "import json;print(json.load(open('o/run.json'))['config']['max_steps'])")
echo "rows=$rows run.json max_steps=$ms"
[ $RC = 0 ] && [ "$rows" = "step 1 2 3 4 5 6" ] && [ "$ms" = 6 ] && V handled "6 steps" || V silent-wrong "rows=$rows max_steps=$ms"
