# class: resume with changed inputs
# case: --config file edited (beta 0.1 -> 0.2) between run and --resume --config
source /tmp/wh/cases/lib.sh
printf 'beta: 0.1\n' > c.yaml
base --config c.yaml
printf 'beta: 0.2\n' > c.yaml
K RES --config c.yaml
refuse 2 'beta'
