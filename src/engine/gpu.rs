//! The wgpu device: adapter choice, the device's own limits, cached pipelines, size checks, device loss, a pool of
//! readback buffers and async readback. Identical on native (Vulkan/lavapipe, Metal, DX12) and in the browser
//! (WebGPU): `poll` is a no-op there. Batched work and resident tensors are in `recorder.rs`.
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A device and queue with the pipelines built so far.
pub struct Gpu {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    lost: Arc<AtomicBool>,
    pipelines: RefCell<HashMap<&'static str, Rc<wgpu::ComputePipeline>>>,
    /// Readback buffers not in use, reused by later readbacks of at most their size.
    staging: RefCell<Vec<wgpu::Buffer>>,
}

/// The bytes of a buffer of `n` floats (or 32-bit words): at least one, as wgpu refuses empty bindings.
pub fn f32_bytes(n: usize) -> u64 {
    (n.max(1) * 4) as u64
}

impl Gpu {
    /// Requests an adapter and a device with the adapter's own limits. Kernels are designed for the portable
    /// WebGPU limits (what every laptop offers, see TOOLCHAIN.md) and sizes are checked against the device's,
    /// so a bigger GPU holds bigger runs and a smaller one refuses them with a message.
    pub async fn new() -> Result<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("WebGPU unavailable ({e})")))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("hebbian-playground"),
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Gpu(format!(
                    "the GPU adapter '{}' refused a device ({e})",
                    info.name
                ))
            })?;
        let lost = Arc::new(AtomicBool::new(false));
        let flag = lost.clone();
        device
            .set_device_lost_callback(move |_reason, _message| flag.store(true, Ordering::SeqCst));
        // Errors outside an error scope must not panic the worker; every kernel call uses a scope.
        device.on_uncaptured_error(Arc::new(|_error| {}));
        Ok(Self {
            device,
            queue,
            info,
            limits,
            lost,
            pipelines: RefCell::new(HashMap::new()),
            staging: RefCell::new(Vec::new()),
        })
    }

    /// Whether the adapter is a software renderer running on the processor (SwiftShader, lavapipe): there the
    /// CPU engine, without the emulation, is 10–20 times faster.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The device as a student would name it: its name, or "this graphics device" when the browser hides it.
    pub fn device_name(&self) -> String {
        if self.info.name.is_empty() {
            "this graphics device".into()
        } else {
            self.info.name.clone()
        }
    }

    pub fn adapter_name(&self) -> String {
        let name = if self.info.name.is_empty() {
            "unnamed adapter"
        } else {
            self.info.name.as_str()
        };
        format!(
            "{name} ({:?}, {:?})",
            self.info.backend, self.info.device_type
        )
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Refuses `values` floats that the kernels' 32-bit indices (kept below 2³¹, so that index arithmetic cannot
    /// wrap) or the device cannot hold, before anything is allocated.
    pub fn check_values(&self, what: &str, values: usize) -> Result<()> {
        if values >= u32::MAX as usize / 2 {
            return Err(Error::Gpu(format!(
                "{what}: {values} values are too many for 32-bit indices"
            )));
        }
        self.check_size(what, f32_bytes(values))
    }

    /// Refuses a buffer the device cannot hold, before anything is allocated.
    pub fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if bytes > limit {
            return Err(Error::TooLarge {
                what: what.into(),
                needed: bytes,
                limit,
            });
        }
        Ok(())
    }

    /// Refuses a dispatch wider than the device allows.
    pub fn check_workgroups(&self, what: &str, groups: u32) -> Result<()> {
        let limit = self.limits.max_compute_workgroups_per_dimension;
        if groups > limit {
            return Err(Error::Gpu(format!(
                "{what} needs {groups} workgroups; this GPU allows {limit}"
            )));
        }
        Ok(())
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Destroys the device, as a driver reset would: used by tests of the CPU fallback.
    pub fn simulate_loss(&self) {
        self.device.destroy();
        self.lost.store(true, Ordering::SeqCst);
    }

    /// The pipeline for `entry` in `source`, built once.
    pub async fn pipeline(
        &self,
        name: &'static str,
        source: &str,
        entry: &str,
    ) -> Result<Rc<wgpu::ComputePipeline>> {
        if let Some(p) = self.pipelines.borrow().get(name) {
            return Ok(p.clone());
        }
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = self
            .device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(name),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            });
        if let Some(e) = scope.pop().await {
            return Err(Error::Gpu(format!("building kernel '{name}' failed: {e}")));
        }
        let pipeline = Rc::new(pipeline);
        self.pipelines.borrow_mut().insert(name, pipeline.clone());
        Ok(pipeline)
    }

    /// A bind group with `buffers` bound in order at group 0 of `pipeline` (bindings 0, 1, …).
    pub fn bind_group(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        })
    }

    /// Runs `pipeline` over `groups` workgroups with `buffers` bound in order at group 0, then copies each
    /// `(buffer, bytes)` in `read` back to the host: a one-dispatch [`Recorder`](super::Recorder) for kernels
    /// whose buffers change with every call. Errors are returned, never panicked.
    pub async fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[&wgpu::Buffer],
        groups: u32,
        read: &[(&wgpu::Buffer, u64)],
    ) -> Result<Vec<Vec<u8>>> {
        if self.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        let mut rec = self.record();
        let bind_group = self.bind_group(pipeline, buffers);
        rec.dispatch_raw(pipeline, &bind_group, groups);
        for (buffer, bytes) in read {
            rec.read_buffer(buffer, *bytes);
        }
        rec.submit().await
    }

    /// A readback buffer of at least `bytes` from the pool, or a new one.
    pub(super) fn staging(&self, bytes: u64) -> wgpu::Buffer {
        let mut pool = self.staging.borrow_mut();
        if let Some(i) = pool.iter().position(|b| b.size() >= bytes) {
            return pool.swap_remove(i);
        }
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Returns a readback buffer to the pool (a few are kept: a run reads the same sizes every step).
    pub(super) fn recycle(&self, buffer: wgpu::Buffer) {
        let mut pool = self.staging.borrow_mut();
        if pool.len() < 8 {
            pool.push(buffer);
        }
    }

    /// Maps a readback buffer and copies its first `bytes` out (awaits the browser; polls the device natively).
    pub(super) async fn read_staging(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let (tx, rx) = futures_channel::oneshot::channel();
        buffer.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the GPU failed: {e}")))?;
        match rx.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading results back failed: {e}"))),
            Err(_) => return Err(Error::Gpu("the GPU device was lost during readback".into())),
        }
        let out = buffer
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?
            [..bytes as usize]
            .to_vec();
        buffer.unmap();
        if self.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        Ok(out)
    }

    /// A storage buffer holding `data` (COPY_SRC so it can be read back). Uploaded with `write_buffer`
    /// rather than mapped at creation: mapping panics natively when the device is gone, an upload only
    /// reports an error to the surrounding scope.
    pub fn storage(&self, label: &str, data: &[u8]) -> Result<wgpu::Buffer> {
        self.upload(label, data, Self::STORAGE)
    }

    /// A uniform buffer holding `data`.
    pub fn uniform(&self, label: &str, data: &[u8]) -> Result<wgpu::Buffer> {
        self.upload(
            label,
            data,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )
    }

    fn upload(&self, label: &str, data: &[u8], usage: wgpu::BufferUsages) -> Result<wgpu::Buffer> {
        let buffer = self.buffer(label, data.len() as u64, usage)?;
        if !data.is_empty() {
            self.queue.write_buffer(&buffer, 0, data);
        }
        Ok(buffer)
    }

    pub(super) const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
        .union(wgpu::BufferUsages::COPY_SRC)
        .union(wgpu::BufferUsages::COPY_DST);

    /// A zeroed buffer of `bytes` (rounded up: sizes must be multiples of 4 and bindings non-empty).
    pub(super) fn buffer(
        &self,
        label: &str,
        bytes: u64,
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        if self.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage,
            mapped_at_creation: false,
        }))
    }
}
