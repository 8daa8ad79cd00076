# class: --overwrite and inputs inside the output dir
# case: --overwrite with --tokenizer a hard-linked copy of OUT/final's files? (--tokenizer OUT/final/../final)
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1
K TA --output_dir o --tokenizer o/final/../final --max_steps 1 --overwrite
[ -e o/final/tokenizer.json ] || { V "lost / mixed" "o/final deleted"; exit; }
refuse 2 'overwrite|inside'
