# class: model / tokenizer mismatches
# case: tokenizer with eos unset (eos_token null)
source /tmp/wh/cases/lib.sh
$PY -c "
import json;c=json.load(open('tok/tokenizer_config.json'));c['eos_token']=None;json.dump(c,open('tok/tokenizer_config.json','w'))"
rm -f tok/special_tokens_map.json
K TA --tokenizer tok --output_dir o --max_steps 1
if [ $RC = 0 ]; then grep -qi eos key.out && V handled "ran, says eos" || V unclear "ran without eos; responses end without eos, no word"; else refuse 2 'eos' o; fi
