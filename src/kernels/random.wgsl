// Random fields: fills a buffer with standard normals, element i from counter i (see kernels/random.rs).

struct FieldParams {
    seed: u32,
    stream: u32,
    len: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: FieldParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(64)
fn fill_normals(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    let block = i / 4u;
    if (block * 4u >= params.len) {
        return;
    }
    // Each invocation recomputes its block of four; cheap, and keeps element i independent of the grid.
    let x = philox4x32(vec4<u32>(block, 0u, 0u, 0u), vec2<u32>(params.seed, params.stream));
    let lane = i % 4u;
    var z: f32;
    if (lane < 2u) {
        z = normal_pair(x.x, x.y)[lane];
    } else {
        z = normal_pair(x.z, x.w)[lane - 2u];
    }
    if (i < params.len) {
        out[i] = z;
    }
}
