# fish completion for wgbpf(8)
set -l cmds watch top replay compare diagnose
complete -c wgbpf -f
complete -c wgbpf -n "not __fish_seen_subcommand_from $cmds" -a watch -d 'show packet paths live'
complete -c wgbpf -n "not __fish_seen_subcommand_from $cmds" -a top -d 'count packets by the path they took'
complete -c wgbpf -n "not __fish_seen_subcommand_from $cmds" -a replay -d 'show a recording'
complete -c wgbpf -n "not __fish_seen_subcommand_from $cmds" -a compare -d 'line up nft monitor trace with wgbpf'
complete -c wgbpf -n "not __fish_seen_subcommand_from $cmds" -a diagnose -d 'check a WireGuard set-up'
complete -c wgbpf -s v -l verbose -d 'more logs'
complete -c wgbpf -l log-format -x -a 'text json' -d 'stderr as text or JSON'
complete -c wgbpf -l version -d 'print the version'
complete -c wgbpf -n "__fish_seen_subcommand_from watch top compare diagnose" -s i -l iface -x -a '(path basename /sys/class/net/*)'
complete -c wgbpf -n "__fish_seen_subcommand_from watch top compare diagnose" -s n -l netns -x -a 'all (path basename /run/netns/*)'
complete -c wgbpf -n "__fish_seen_subcommand_from watch top replay compare diagnose" -l json
complete -c wgbpf -n "__fish_seen_subcommand_from watch top compare diagnose" -l duration -x
complete -c wgbpf -n "__fish_seen_subcommand_from watch top compare diagnose" -l no-fexit
complete -c wgbpf -n "__fish_seen_subcommand_from watch top replay" -l colour -l color -x -a 'auto always never'
complete -c wgbpf -n "__fish_seen_subcommand_from watch top" -l sample -x
complete -c wgbpf -n "__fish_seen_subcommand_from watch" -s w -l write -r
complete -c wgbpf -n "__fish_seen_subcommand_from watch replay" -l pcapng -r -d 'also write the packets for Wireshark (pcapng)'
complete -c wgbpf -n "__fish_seen_subcommand_from watch" -l snaplen -x -d 'bytes captured per device crossing'
complete -c wgbpf -n "__fish_seen_subcommand_from watch replay" -l steps
complete -c wgbpf -n "__fish_seen_subcommand_from watch" -l nftrace
complete -c wgbpf -n "__fish_seen_subcommand_from watch" -l count -x
complete -c wgbpf -n "__fish_seen_subcommand_from watch" -l ringbuf-kib -x
complete -c wgbpf -n "__fish_seen_subcommand_from top" -l interval -x
complete -c wgbpf -n "__fish_seen_subcommand_from top" -l rows -x
complete -c wgbpf -n "__fish_seen_subcommand_from top" -l examples
complete -c wgbpf -n "__fish_seen_subcommand_from compare" -l nftrace -r
complete -c wgbpf -n "__fish_seen_subcommand_from diagnose" -s r -l recording -r
complete -c wgbpf -n "__fish_seen_subcommand_from replay compare" -F
complete -c wgbpf -n "__fish_seen_subcommand_from watch top" -l metrics -x -d 'serve Prometheus counters at ADDR:PORT'
