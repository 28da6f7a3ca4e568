//! Every WGSL module, as compiled (library code included), parses and validates with naga: no adapter needed.
use hebbian_playground::kernels;

#[test]
fn all_wgsl_validates() {
    let modules = kernels::all_wgsl();
    assert!(modules.len() >= 2);
    for (name, source) in modules {
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
}
