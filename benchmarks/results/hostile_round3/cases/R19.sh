# class: resume with changed inputs
# case: --ref_model re-exported (other weights) before --resume
source /tmp/wh/cases/lib.sh
cp -r model refm; base --ref_model refm
cp model_b/model.safetensors refm/model.safetensors
K RES
refuse 2 'ref_model|changed|reference'
