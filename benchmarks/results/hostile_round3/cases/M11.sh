# class: model / tokenizer mismatches
# case: tokenizer directory without tokenizer files (--tokenizer empty dir)
source /tmp/wh/cases/lib.sh
mkdir emptytok
K TA --tokenizer emptytok --output_dir o --max_steps 1
refuse 2 'tokenizer|emptytok' o
