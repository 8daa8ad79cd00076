# class: option edges
# case: --loss_types '' (empty string)
source /tmp/wh/cases/lib.sh
K TA --output_dir o --max_steps 1 --loss_types ''
if [ $RC = 0 ]; then l=$($PY -c "import json;print(json.load(open('o/run.json'))['loss'].splitlines()[1])"); V silent-wrong "accepted, trained '$l'"; else refuse 2 'loss_types' o; fi
