//! ServiceEntry and WorkloadEntry.

use super::check;

#[test]
fn valid_service_entries() {
    check(&[
        (
            r#"ServiceEntry default/external-api
            hosts: [api.example.com]
            location: MESH_EXTERNAL
            ports:
            - {number: 443, name: https, protocol: TLS}
            resolution: DNS
            "#,
            &[],
        ),
        (
            r#"ServiceEntry bookinfo/ratings-vm
            hosts: [ratings.bookinfo.svc.cluster.local]
            addresses: [198.19.0.20]
            location: MESH_INTERNAL
            ports:
            - {number: 9080, name: http, protocol: HTTP, targetPort: 19080}
            resolution: STATIC
            endpoints:
            - address: 198.18.0.20
              ports: {http: 19080}
              labels: {app: ratings, version: v1}
              locality: us-east1/zone-a
            - address: "2001:db8::20"
              weight: 2
            exportTo: ["~"]
            "#,
            &[],
        ),
    ]);
}

#[test]
fn hosts_addresses_and_ports() {
    check(&[(
        r#"ServiceEntry default/bad
        hosts: ["*", "db.example.com", "Bad.example.com"]
        addresses: [10.0.0.0/8, 10.1.2.300]
        ports:
        - {number: 3306, name: mysql, protocol: MYSQL}
        - {number: 3306, name: mysql, protocol: SQL}
        - {number: 70000, name: Web_Port, protocol: TCP, targetPort: 0}
        resolution: DNS
        endpoints: [{address: db.internal}]
        exportTo: ["~", "*"]
        "#,
        &[
            "ServiceEntry default/bad: spec.hosts[0]: host \"*\" would capture every host: name the service, e.g. \"api.example.com\" or \"*.example.com\"",
            "ServiceEntry default/bad: spec.hosts[2]: host \"Bad.example.com\" is invalid: label \"Bad\" must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
            "ServiceEntry default/bad: spec.addresses[0]: CIDR block \"10.0.0.0/8\" needs resolution NONE or STATIC: DNS resolves single hosts",
            "ServiceEntry default/bad: spec.addresses[1]: \"10.1.2.300\" is not an IP address or CIDR block: write it like \"10.1.2.3\" or \"10.1.0.0/16\"",
            "ServiceEntry default/bad: spec.ports[1].name: port name \"mysql\" is already used: give each port its own name",
            "ServiceEntry default/bad: spec.ports[1].number: port 3306 is already declared: list each port once",
            "ServiceEntry default/bad: spec.ports[1].protocol: protocol \"SQL\" is not supported: use one of HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, MYSQL, REDIS, TCP, TLS, UDP (or leave it out to detect it)",
            "ServiceEntry default/bad: spec.ports[2].name: port name \"Web_Port\" is invalid: use a DNS label such as \"http\" or \"tcp-db\"",
            "ServiceEntry default/bad: spec.ports[2].number: port 70000 is out of range: use 1 to 65535",
            "ServiceEntry default/bad: spec.ports[2].targetPort: port 0 is out of range: use 1 to 65535",
            "ServiceEntry default/bad: spec.ports[0]: several hosts share TCP port 3306, and the proxy cannot tell them apart: use one ServiceEntry per host, or resolution NONE",
            "ServiceEntry default/bad: spec.exportTo: \"*\" already exports to every namespace: remove the other values",
            "ServiceEntry default/bad: spec.exportTo: \"~\" hides the service from every namespace: it cannot be combined with other values",
        ],
    )]);
}

#[test]
fn endpoints_follow_the_resolution() {
    check(&[
        (
            r#"ServiceEntry default/static
            hosts: [static.example.com]
            ports: [{number: 80, name: http, protocol: HTTP}]
            resolution: STATIC
            endpoints:
            - address: vm.example.com
              ports: {grpc: 9090}
            - address: unix://relative.sock
              weight: 0
            workloadSelector: {}
            "#,
            &[
                "warning: ServiceEntry default/static: spec.workloadSelector: the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
                "ServiceEntry default/static: spec.workloadSelector: set at most one of endpoints and workloadSelector",
                "ServiceEntry default/static: spec.endpoints[0].address: address \"vm.example.com\" is not an IP address: resolution STATIC needs IPs (use resolution DNS for host names)",
                "ServiceEntry default/static: spec.endpoints[0].ports.grpc: port \"grpc\" is not declared in spec.ports: use one of [http]",
                "ServiceEntry default/static: spec.endpoints[1].address: unix socket \"relative.sock\" is not an absolute path to a file: write e.g. \"unix:///var/run/app.sock\"",
                "ServiceEntry default/static: spec.endpoints[1].weight: weight 0 is not allowed: the lowest weight is 1 (remove the endpoint to send it no traffic)",
            ],
        ),
        (
            r#"ServiceEntry default/dns
            hosts: ["*.wikipedia.org"]
            ports: [{number: 443, name: https, protocol: TLS}]
            resolution: DNS_ROUND_ROBIN
            workloadSelector: {}
            "#,
            &[
                "warning: ServiceEntry default/dns: spec.workloadSelector: the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
                "ServiceEntry default/dns: spec.hosts[0]: host \"*.wikipedia.org\" cannot be resolved by DNS: name a concrete host, add endpoints, or use resolution NONE",
                "warning: ServiceEntry default/dns: spec.workloadSelector: workloadSelector is used only with resolution STATIC: set resolution: STATIC",
            ],
        ),
        (
            r#"ServiceEntry default/none
            hosts: [none.example.com]
            ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
            endpoints: [{address: 10.0.0.1}]
            "#,
            &[
                "warning: ServiceEntry default/none: spec.ports[0].targetPort: targetPort has no effect with resolution NONE: the proxy connects to the port the client dialled",
                "ServiceEntry default/none: spec.endpoints: resolution NONE forwards to the address the client dialled, so endpoints are unused: remove them, or use resolution STATIC or DNS",
            ],
        ),
        (
            r#"ServiceEntry default/empty
            hosts: [empty.example.com]
            resolution: STATIC
            "#,
            &[
                "warning: ServiceEntry default/empty: spec: resolution STATIC with neither endpoints nor a workloadSelector has no endpoints, so requests fail: add one of them",
            ],
        ),
    ]);
}

#[test]
fn workload_entries() {
    check(&[
        (
            r#"WorkloadEntry bookinfo/ratings-vm
            address: 198.18.0.20
            ports: {http: 9080}
            labels: {app: ratings, version: v1}
            serviceAccount: bookinfo-ratings
            weight: 10
            "#,
            &[],
        ),
        (
            r#"WorkloadEntry default/bad
            address: "not an address"
            ports: {Http: 0}
            labels: {"-app": x}
            locality: a//b
            "#,
            &[
                "WorkloadEntry default/bad: spec.address: address \"not an address\" is not an IP address, a DNS name or a unix:// socket",
                "WorkloadEntry default/bad: spec.ports.Http: port name \"Http\" is invalid: use a DNS label such as \"http\"",
                "WorkloadEntry default/bad: spec.ports.Http: port 0 is out of range: use 1 to 65535",
                "WorkloadEntry default/bad: spec.labels.-app: label key \"-app\" is invalid: use at most 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit), optionally after a DNS prefix like \"app.kubernetes.io/\"",
                "WorkloadEntry default/bad: spec.locality: locality \"a//b\" is invalid: write region, region/zone or region/zone/subzone",
            ],
        ),
        (
            r#"WorkloadEntry default/sockets
            address: unix:///var/run/app.sock
            ports: {http: 80}
            "#,
            &[
                "WorkloadEntry default/sockets: spec.ports: \"unix:///var/run/app.sock\" is a unix socket, which has no ports: remove ports",
            ],
        ),
        (
            r#"WorkloadEntry default/remote
            network: network-2
            "#,
            &[
                "warning: WorkloadEntry default/remote: spec.address: address is empty: the workload is reached through the gateway of network \"network-2\"",
            ],
        ),
    ]);
}
