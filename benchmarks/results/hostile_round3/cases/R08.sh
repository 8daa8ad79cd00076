# class: resume with changed inputs
# case: model directory re-exported with other weights (same path) before --resume
source /tmp/wh/cases/lib.sh
base
cp model_b/model.safetensors model/model.safetensors
K RES
refuse 2 'model|changed'
