//! Random fields: `n` standard normals from (seed, stream), element i from Philox counter i / 4, lane i % 4.
//! CPU twin and GPU dispatch of kernels/random.wgsl.
use crate::engine::Gpu;
use crate::error::Result;
use crate::rng;
use ndarray::Array1;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct FieldParams {
    seed: u32,
    stream: u32,
    len: u32,
    _pad: u32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("random.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "random",
        "FieldParams",
        FieldParams,
        seed,
        stream,
        len
    )]
}

/// CPU twin.
pub fn fill_normals_cpu(seed: u32, stream: u32, len: usize) -> Array1<f32> {
    Array1::from_shape_fn(len, |i| {
        let block = (i / 4) as u32;
        rng::normal4([block, 0, 0, 0], [seed, stream])[i % 4]
    })
}

/// GPU version.
pub async fn fill_normals_gpu(
    gpu: &Gpu,
    seed: u32,
    stream: u32,
    len: usize,
) -> Result<Array1<f32>> {
    let bytes = (len.max(1) * 4) as u64;
    gpu.check_size("the random field", bytes)?;
    let groups = len.div_ceil(64) as u32;
    gpu.check_workgroups("the random field", groups)?;
    let pipeline = gpu.pipeline("random", &source(), "fill_normals").await?;
    let params = FieldParams {
        seed,
        stream,
        len: len as u32,
        _pad: 0,
    };
    let uniform = gpu.uniform("field params", bytemuck::bytes_of(&params))?;
    let out = gpu.storage("field", &vec![0u8; bytes as usize])?;
    let read = gpu
        .dispatch(
            &pipeline,
            &[&uniform, &out],
            groups.max(1),
            &[(&out, bytes)],
        )
        .await?;
    let mut values: Vec<f32> = bytemuck::pod_collect_to_vec(&read[0]);
    values.truncate(len);
    Ok(Array1::from(values))
}
