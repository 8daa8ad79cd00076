# class: model / tokenizer mismatches
# case: --model nonexistent Hub-like id offline
source /tmp/wh/cases/lib.sh
K TA --model nobody/nothing-xyz --output_dir o --max_steps 1
refuse 2 "model 'nobody/nothing-xyz'" o
