"""Networks: IPAM, bridges and veth pairs over netlink, NAT and published ports in
darse's own nftables table, and the embedded DNS of user-defined networks."""
