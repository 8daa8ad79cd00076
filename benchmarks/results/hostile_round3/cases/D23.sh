# class: data
# case: a .json file with an empty list
source /tmp/wh/cases/lib.sh
echo '[]' > x.json
K TA --train_data x.json --output_dir o --max_steps 1
refuse 2 'x.json' o
