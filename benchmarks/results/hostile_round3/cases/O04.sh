# class: --overwrite and inputs inside the output dir
# case: --overwrite: --config is a symlink outside pointing to a file inside OUT
source /tmp/wh/cases/lib.sh
TA --output_dir o --max_steps 1 > /dev/null 2>&1; printf 'beta: 0.1\n' > o/c.yaml; ln -s o/c.yaml c.yaml
K TA --output_dir o --config c.yaml --max_steps 1 --overwrite
[ -e o/c.yaml ] || { V "lost / mixed" "o/c.yaml deleted"; exit; }
refuse 2 'overwrite|inside'
