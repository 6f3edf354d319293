# Helpers shared by the launch scripts (sourced, not run).

# shquote ARG...: print the arguments as one shell line that a POSIX shell (or Python's
# shlex.split) splits back into exactly these arguments. Plain words stay bare.
shquote() {
  local out="" arg
  for arg in "$@"; do
    if [[ -n $arg && $arg =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
      out+="$arg "
    else
      out+="'${arg//\'/\'\\\'\'}' "
    fi
  done
  printf '%s\n' "${out% }"
}

# json_string VALUE: VALUE as a JSON string literal.
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# wandb_mode: the W&B mode the job runs with. WANDB_MODE wins when set; otherwise online
# when WANDB_API_KEY is set and offline (logs kept under wandb/, synced later) when not.
wandb_mode() {
  if [ -n "${WANDB_MODE:-}" ]; then
    printf '%s\n' "$WANDB_MODE"
  elif [ -n "${WANDB_API_KEY:-}" ]; then
    echo online
  else
    echo offline
  fi
}
