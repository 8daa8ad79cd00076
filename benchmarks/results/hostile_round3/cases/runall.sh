# runall.sh before|after [ids...]: runs the cases, writes /tmp/wh/<phase>.tsv (id, rc, auto verdict, reason, tail)
ph=$1; shift; cd /tmp/wh/cases
ids=${*:-$(ls [A-Z]*.sh | sed 's/\.sh$//' | sort)}
out=/tmp/wh/$ph.tsv; mkdir -p /tmp/wh/logs_$ph
for id in $ids; do
  s=$(date +%s)
  CASE=$id timeout 900 bash $id.sh > /tmp/wh/logs_$ph/$id.log 2>&1
  rc=$(grep -m1 '^RC=' /tmp/wh/logs_$ph/$id.log | cut -d= -f2)
  au=$(grep -m1 '^AUTO=' /tmp/wh/logs_$ph/$id.log | cut -d= -f2-)
  tl=$(grep '^TAIL: ' /tmp/wh/logs_$ph/$id.log | sed 's/^TAIL: //' | tr '\t' ' ' | paste -sd'~')
  grep -v "^$id	" $out > $out.tmp 2>/dev/null; mv $out.tmp $out 2>/dev/null
  printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$rc" "${au%%|*}" "${au#*|}" "$tl" >> $out
  echo "$id rc=$rc ${au%%|*} ($(( $(date +%s)-s ))s)"
done
