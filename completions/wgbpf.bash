# bash completion for wgbpf(8)
_wgbpf() {
    local cur prev words cword
    _init_completion || return
    local commands="watch top replay compare diagnose"
    local global="-v --verbose --log-format --version --help"
    local cmd="" w
    for w in "${words[@]:1:cword-1}"; do
        case $w in watch|top|replay|compare|diagnose) cmd=$w; break ;; esac
    done
    case $prev in
        --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")); return ;;
        --colour|--color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
        -i|--iface) COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
        -n|--netns) COMPREPLY=($(compgen -W "all $(ls /run/netns 2>/dev/null)" -- "$cur")); return ;;
        -w|--write|--nftrace|-r|--recording|--pcapng) _filedir; return ;;
        --duration|--count|--ringbuf-kib|--sample|--interval|--rows|--metrics|--snaplen) return ;;
    esac
    local opts
    case $cmd in
        watch) opts="--iface -i --netns -n --json --write -w --no-fexit --steps --nftrace --duration --count --ringbuf-kib --sample --metrics --pcapng --snaplen --colour --color --help" ;;
        top) opts="--iface -i --netns -n --json --interval --rows --examples --duration --sample --no-fexit --metrics --colour --color --help" ;;
        replay) opts="--json --steps --pcapng --colour --color --help"; [[ $cur != -* ]] && { _filedir; return; } ;;
        compare) opts="--nftrace --json --iface -i --netns -n --duration --no-fexit --help"; [[ $cur != -* ]] && { _filedir; return; } ;;
        diagnose) opts="--iface -i --netns -n --duration --recording -r --json --no-fexit --help" ;;
        *) COMPREPLY=($(compgen -W "$commands $global" -- "$cur")); return ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _wgbpf wgbpf
