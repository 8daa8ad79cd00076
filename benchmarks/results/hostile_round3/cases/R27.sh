# class: resume with changed inputs
# case: run.json not valid JSON before --resume
source /tmp/wh/cases/lib.sh
base
echo '{"config": {' > o2/run.json
K RES
refuse 2 'run.json'
