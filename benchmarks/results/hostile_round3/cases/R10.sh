# class: resume with changed inputs
# case: model config.json edited (rms_norm_eps) before --resume
source /tmp/wh/cases/lib.sh
base
$PY -c "import json;c=json.load(open('model/config.json'));c['rms_norm_eps']=0.1;json.dump(c,open('model/config.json','w'))"
K RES
refuse 2 'model|changed'
