#include "metrics/path_metrics.hpp"

#include "common/utf8.hpp"

#include "event/module_id.hpp"
#include "timeline/packet_timeline.hpp"

namespace wgbpf {

namespace {

prometheus::Family<prometheus::Counter>& family(prometheus::Registry& r, const char* name, const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

// Label values are kernel names and configuration text: at most 128 bytes of valid UTF-8 (Prometheus refuses a
// whole scrape for one bad value), controls and invalid bytes as '?'.
std::string label(std::string_view v) {
    std::string out;
    for (size_t i = 0; i < v.size() && out.size() < 128;) {
        const auto c = static_cast<unsigned char>(v[i]);
        const size_t n = utf8_sequence_at(v, i);
        if (n == 0 || out.size() + n > 128 || c < 0x20 || c == 0x7f) {
            out += '?';
            ++i;
            continue;
        }
        out.append(v.substr(i, n));
        i += n;
    }
    return out.empty() ? "none" : out;
}

} // namespace

PathMetrics::PathMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      packets_(family(*registry_, "wgbpf_packets_total", "Watched packets whose story ended, by outcome")),
      drops_(family(*registry_, "wgbpf_drops_total", "Watched packets the kernel dropped, by drop reason")),
      chain_drops_(family(*registry_, "wgbpf_chain_drops_total",
                          "Watched packets a netfilter chain dropped, by chain (family table chain)")),
      rp_filter_failures_(family(*registry_, "wgbpf_rp_filter_failures_total",
                                 "Watched packets the reverse-path filter refused, by incoming interface")),
      wireguard_messages_(family(*registry_, "wgbpf_wireguard_messages_total",
                                 "WireGuard steps of watched packets, by interface, action and direction")),
      wireguard_drops_(family(*registry_, "wgbpf_wireguard_drops_total",
                              "Watched packets WireGuard dropped, by interface, peer (public key) and verdict")),
      incomplete_(family(*registry_, "wgbpf_incomplete_timelines_total",
                         "Timelines with a gap, by cause (events_lost, evicted, other)")),
      events_(family(*registry_, "wgbpf_events_total", "Events the BPF programs delivered, by module")),
      lost_(family(*registry_, "wgbpf_events_lost_total", "Events the kernel lost (ring buffer full), by module")) {}

prometheus::Counter& PathMetrics::counter(prometheus::Family<prometheus::Counter>& f,
                                          const prometheus::Labels& labels) {
    if (f.Has(labels)) return f.Add(labels);
    size_t& made = series_[&f];
    if (made >= kMaxSeries) {
        prometheus::Labels other = labels;
        for (auto& [k, v] : other) v = "other";
        return f.Add(other);
    }
    ++made;
    return f.Add(labels);
}

void PathMetrics::add(const PacketTimeline& t) {
    counter(packets_,
            {{"outcome", std::string(name_of(t.outcome))}, {"inferred", t.outcome_inferred ? "true" : "false"}})
        .Increment();
    for (const TimelineStep& s : t.steps) {
        if (const DropStep* d = std::get_if<DropStep>(&s)) {
            counter(drops_, {{"reason", label(d->reason)}}).Increment();
            if (!d->chain.empty()) counter(chain_drops_, {{"chain", label(d->chain)}}).Increment();
        } else if (const RpFilterStep* r = std::get_if<RpFilterStep>(&s)) {
            if (r->result == RpFilterResult::fail) counter(rp_filter_failures_, {{"iif", label(r->iif)}}).Increment();
        } else if (const WireguardStep* w = std::get_if<WireguardStep>(&s)) {
            // A linked inner packet carries a copy of its outer packet's step: the message is counted once, there.
            // A step WireGuard dropped the packet in is a drop, not a message it made; a message dropped before
            // WireGuard took it (rp_filter, an input chain) is neither.
            const bool inner_copy = t.encapsulated_in || t.decapsulated_from;
            if (!inner_copy && w->dropped.empty() && !not_taken_by_wireguard(*w, t))
                counter(wireguard_messages_, {{"interface", label(w->interface)},
                                              {"action", std::string(name_of(w->action))},
                                              {"direction", std::string(name_of(w->direction))}})
                    .Increment();
            if (!w->dropped.empty())
                counter(wireguard_drops_, {{"interface", label(w->interface)},
                                           {"peer", label(w->peer)},
                                           {"verdict", label(w->verdict)},
                                           {"inferred", w->inferred ? "true" : "false"}})
                    .Increment();
        }
    }
    if (!t.gaps.empty()) {
        const char* cause = "other";
        for (const std::string& g : t.gaps) {
            if (g.find("events lost") != std::string::npos) cause = "events_lost";
            else if (g.starts_with("evicted")) cause = "evicted";
        }
        counter(incomplete_, {{"cause", cause}}).Increment();
    }
}

void PathMetrics::modules(const std::vector<ModuleStatus>& statuses) {
    for (const ModuleStatus& m : statuses) {
        const std::string name(name_of(m.module));
        for (auto [fam, key, total] :
             {std::tuple{&events_, "events ", m.events}, std::tuple{&lost_, "lost ", m.lost}}) {
            double& seen = module_seen_[key + name];
            prometheus::Counter& c = counter(*fam, {{"module", name}}); // 0 from the start: a series to alert on
            if (double(total) > seen) c.Increment(double(total) - seen);
            seen = std::max(seen, double(total));
        }
    }
}

} // namespace wgbpf
