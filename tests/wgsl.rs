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

/// Every struct shared with WGSL has the same size and field offsets on both sides (naga computes the WGSL
/// layout; a field added on one side only, or reordered, fails here instead of corrupting a kernel's input).
#[test]
fn shared_struct_layouts_match() {
    let modules: std::collections::HashMap<_, _> = kernels::all_wgsl().into_iter().collect();
    let layouts = kernels::layouts();
    assert!(layouts.len() >= 6);
    for l in layouts {
        let source = &modules[l.kernel];
        let module = naga::front::wgsl::parse_str(source).expect("parses");
        let (_, ty) = module
            .types
            .iter()
            .find(|(_, t)| t.name.as_deref() == Some(l.wgsl_struct))
            .unwrap_or_else(|| panic!("{}: no struct {}", l.kernel, l.wgsl_struct));
        let naga::TypeInner::Struct { members, span } = &ty.inner else {
            panic!("{} is not a struct", l.wgsl_struct)
        };
        assert_eq!(
            *span as usize, l.size,
            "{}::{} size",
            l.kernel, l.wgsl_struct
        );
        for (name, offset) in &l.fields {
            let m = members
                .iter()
                .find(|m| m.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{}::{} has no field {name}", l.kernel, l.wgsl_struct));
            assert_eq!(
                m.offset as usize, *offset,
                "{}::{}.{name}",
                l.kernel, l.wgsl_struct
            );
        }
    }
}

/// The prelude's constants are the Rust values (a rule id or stream purpose copied by hand would drift).
#[test]
fn prelude_constants_come_from_rust() {
    let lib = kernels::prelude::library();
    for rule in hebbian_playground::plasticity::Rule::ALL {
        assert!(lib.contains(&format!(
            "const {}: u32 = {}u;",
            rule.wgsl_name(),
            rule as u32
        )));
    }
    for (p, name) in hebbian_playground::rng::Purpose::ALL {
        assert!(lib.contains(&format!("const {name}: u32 = {}u;", p as u32)));
    }
    for (o, name) in hebbian_playground::nets::hopfield::Outcome::ALL {
        assert!(lib.contains(&format!("const {name}: u32 = {}u;", o as u32)));
    }
}
