# class: resume with changed inputs
# case: --reference precomputed and the model re-exported before --resume
source /tmp/wh/cases/lib.sh
base --reference precomputed
cp model_b/model.safetensors model/model.safetensors
K RES
refuse 2 'model|changed'
