# class: resume with changed inputs
# case: --resume --max_length 8 (stored 512; changes truncation)
source /tmp/wh/cases/lib.sh
base
K RES --max_length 8
refuse 2 'max_length'
