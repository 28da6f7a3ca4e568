//! The wgpu device: adapter choice, limits, cached pipelines, size checks, device loss and async readback.
//! Identical on native (Vulkan/lavapipe, Metal, DX12) and in the browser (WebGPU): `poll` is a no-op there.
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
}

impl Gpu {
    /// Requests an adapter and a device with the portable WebGPU default limits (what every laptop offers).
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
        let limits = wgpu::Limits::default();
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
        })
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
    /// `(buffer, bytes)` in `read` back to the host. Errors (validation, out of memory, lost device) are
    /// returned, never panicked.
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
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let bind_group = self.bind_group(pipeline, buffers);
        let staging: Vec<wgpu::Buffer> = read
            .iter()
            .map(|(_, bytes)| {
                self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("readback"),
                    size: *bytes,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let mut encoder = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups, 1, 1);
        }
        for ((src, bytes), dst) in read.iter().zip(&staging) {
            encoder.copy_buffer_to_buffer(src, 0, dst, 0, *bytes);
        }
        self.queue.submit([encoder.finish()]);
        if let Some(e) = memory.pop().await {
            return Err(Error::Gpu(format!("out of GPU memory: {e}")));
        }
        if let Some(e) = validation.pop().await {
            return Err(Error::Gpu(format!("kernel rejected: {e}")));
        }
        let mut out = Vec::with_capacity(staging.len());
        for buffer in &staging {
            out.push(self.read(buffer).await?);
        }
        Ok(out)
    }

    /// Maps a MAP_READ buffer and copies its bytes out (awaits the browser; polls the device natively).
    async fn read(&self, buffer: &wgpu::Buffer) -> Result<Vec<u8>> {
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
        let bytes = buffer
            .get_mapped_range(..)
            .map_err(|e| Error::Gpu(format!("reading results back failed: {e}")))?
            .to_vec();
        buffer.unmap();
        if self.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        Ok(bytes)
    }

    /// A storage buffer holding `data` (COPY_SRC so it can be read back). Uploaded with `write_buffer`
    /// rather than mapped at creation: mapping panics natively when the device is gone, an upload only
    /// reports an error to the surrounding scope.
    pub fn storage(&self, label: &str, data: &[u8]) -> Result<wgpu::Buffer> {
        let usage = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        self.upload(label, data, usage)
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
        if self.is_lost() {
            return Err(Error::Gpu("the GPU device was lost".into()));
        }
        // Buffer sizes must be multiples of 4 and bindings non-empty.
        let size = (data.len() as u64).max(4).next_multiple_of(4);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        });
        if !data.is_empty() {
            self.queue.write_buffer(&buffer, 0, data);
        }
        Ok(buffer)
    }
}
