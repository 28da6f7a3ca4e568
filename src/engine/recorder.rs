//! Resident tensors and batched submission: what lets a training loop keep its weights, optimiser state and
//! statistics on the device between steps, and put many dispatches into one command buffer.
//!
//! - [`Tensor`]: a storage (or uniform) buffer created once per run, written in place, read back only when a
//!   frame needs it.
//! - [`Kernel`]: a pipeline with its bind group, both made once per run (binding tensors 0, 1, … of group 0).
//! - [`Recorder`]: dispatches, buffer copies and readbacks recorded into one command encoder, sent in one
//!   submit under one pair of error scopes (validation, out of memory); readbacks go through staging buffers
//!   the device keeps in a pool, so a step allocates nothing.
use super::Gpu;
use crate::error::{Error, Result};
use std::rc::Rc;

/// A buffer living on the device for a run.
#[derive(Debug)]
pub struct Tensor {
    buffer: wgpu::Buffer,
    bytes: u64,
}

impl Tensor {
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Size in bytes (as asked for; the buffer itself is rounded up to a multiple of 4).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Another handle to the same buffer (nothing is copied): lets one layer's output be the next layer's
    /// input without a copy between them.
    pub fn share(&self) -> Tensor {
        Tensor {
            buffer: self.buffer.clone(),
            bytes: self.bytes,
        }
    }
}

/// A pipeline and its bind group, built once per run.
#[derive(Debug)]
pub struct Kernel {
    pipeline: Rc<wgpu::ComputePipeline>,
    group: wgpu::BindGroup,
}

impl Gpu {
    /// A zeroed storage tensor of `bytes`, refused before allocation when the device cannot hold it.
    pub fn tensor(&self, what: &str, bytes: u64) -> Result<Tensor> {
        self.check_size(what, bytes)?;
        let buffer = self.buffer(what, bytes, Self::STORAGE)?;
        Ok(Tensor { buffer, bytes })
    }

    /// A storage tensor holding `data`.
    pub fn tensor_from(&self, what: &str, data: &[u8]) -> Result<Tensor> {
        let t = self.tensor(what, data.len() as u64)?;
        self.write(&t, data);
        Ok(t)
    }

    /// A uniform tensor of `bytes` (parameters rewritten before each step).
    pub fn uniform_tensor(&self, what: &str, bytes: u64) -> Result<Tensor> {
        let buffer = self.buffer(
            what,
            bytes,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(Tensor { buffer, bytes })
    }

    /// Overwrites the start of `t` with `data` (queued: it lands before the next submit's work).
    pub fn write(&self, t: &Tensor, data: &[u8]) {
        if !data.is_empty() {
            self.queue().write_buffer(&t.buffer, 0, data);
        }
    }

    /// The kernel `entry` of `source` with `tensors` bound in order at group 0.
    pub async fn kernel(
        &self,
        name: &'static str,
        source: &str,
        entry: &str,
        tensors: &[&Tensor],
    ) -> Result<Kernel> {
        let pipeline = self.pipeline(name, source, entry).await?;
        let buffers: Vec<&wgpu::Buffer> = tensors.iter().map(|t| &t.buffer).collect();
        let group = self.bind_group(&pipeline, &buffers);
        Ok(Kernel { pipeline, group })
    }

    /// The kernel `entry` of `source` with each tensor bound at its binding number of group 0: for the entry
    /// points of one module that use different subsets of its bindings (auto layouts hold only the bindings an
    /// entry uses).
    pub async fn kernel_at(
        &self,
        name: &'static str,
        source: &str,
        entry: &str,
        tensors: &[(u32, &Tensor)],
    ) -> Result<Kernel> {
        let pipeline = self.pipeline(name, source, entry).await?;
        let entries: Vec<wgpu::BindGroupEntry> = tensors
            .iter()
            .map(|(binding, t)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: t.buffer.as_entire_binding(),
            })
            .collect();
        let group = self.device().create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        Ok(Kernel { pipeline, group })
    }

    /// Starts recording work for one submit.
    pub fn record(&self) -> Recorder<'_> {
        Recorder {
            gpu: self,
            validation: self
                .device()
                .push_error_scope(wgpu::ErrorFilter::Validation),
            memory: self
                .device()
                .push_error_scope(wgpu::ErrorFilter::OutOfMemory),
            encoder: self.device().create_command_encoder(&Default::default()),
            pass: None,
            reads: Vec::new(),
        }
    }
}

/// Work recorded for one submit. Dropping it unsubmitted discards the work.
pub struct Recorder<'g> {
    gpu: &'g Gpu,
    validation: wgpu::ErrorScopeGuard,
    memory: wgpu::ErrorScopeGuard,
    encoder: wgpu::CommandEncoder,
    /// The compute pass consecutive dispatches share; ended before a copy or a clear, which need the encoder.
    pass: Option<wgpu::ComputePass<'static>>,
    /// Staging buffers holding what `submit` returns, with their byte counts.
    reads: Vec<(wgpu::Buffer, u64)>,
}

impl Recorder<'_> {
    /// Runs `kernel` over `groups` workgroups.
    pub fn dispatch(&mut self, kernel: &Kernel, groups: u32) {
        self.dispatch_raw(&kernel.pipeline, &kernel.group, groups);
    }

    pub(super) fn dispatch_raw(
        &mut self,
        pipeline: &wgpu::ComputePipeline,
        group: &wgpu::BindGroup,
        groups: u32,
    ) {
        let pass = self.pass.get_or_insert_with(|| {
            self.encoder
                .begin_compute_pass(&Default::default())
                .forget_lifetime()
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        pass.dispatch_workgroups(groups, 1, 1);
    }

    /// Zeroes `t` on the device.
    pub fn clear(&mut self, t: &Tensor) {
        self.pass = None;
        self.encoder.clear_buffer(&t.buffer, 0, None);
    }

    /// Copies the first `bytes` of `t` back to the host with the submit (returned in the order asked).
    pub fn read(&mut self, t: &Tensor, bytes: u64) {
        self.read_buffer(&t.buffer, bytes);
    }

    pub(super) fn read_buffer(&mut self, buffer: &wgpu::Buffer, bytes: u64) {
        let staging = self.gpu.staging(bytes);
        self.pass = None;
        self.encoder
            .copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.reads.push((staging, bytes));
    }

    /// Sends everything recorded in one submit and returns the readbacks. Errors (validation, out of memory,
    /// a lost device) are returned, never panicked.
    pub async fn submit(self) -> Result<Vec<Vec<u8>>> {
        let Self {
            gpu,
            validation,
            memory,
            encoder,
            pass,
            reads,
        } = self;
        drop(pass);
        if gpu.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        gpu.queue().submit([encoder.finish()]);
        let (memory, validation) = (memory.pop(), validation.pop());
        if let Some(e) = memory.await {
            return Err(Error::Gpu(format!("out of GPU memory: {e}")));
        }
        if let Some(e) = validation.await {
            return Err(Error::Gpu(format!("kernel rejected: {e}")));
        }
        let mut out = Vec::with_capacity(reads.len());
        for (staging, bytes) in reads {
            let r = gpu.read_staging(&staging, bytes).await;
            gpu.recycle(staging);
            out.push(r?);
        }
        Ok(out)
    }
}
