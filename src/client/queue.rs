//! A bounded FIFO of received datagrams whose buffers are recycled, so steady traffic does
//! not allocate per datagram.

use std::collections::VecDeque;

#[derive(Debug)]
pub(crate) struct DatagramQueue {
    queued: VecDeque<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    capacity: usize,
}

impl DatagramQueue {
    pub fn new(capacity: usize) -> DatagramQueue {
        DatagramQueue {
            queued: VecDeque::with_capacity(capacity.min(1024)),
            spare: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.queued.len()
    }

    pub fn is_full(&self) -> bool {
        self.queued.len() >= self.capacity
    }

    /// Appends a copy of `datagram`; the caller checks [`DatagramQueue::is_full`] first.
    pub fn push(&mut self, datagram: &[u8]) {
        debug_assert!(!self.is_full());
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(datagram);
        self.queued.push_back(buf);
    }

    /// Size of the oldest datagram.
    pub fn front_len(&self) -> Option<usize> {
        self.queued.front().map(Vec::len)
    }

    /// Moves the oldest datagram into `out` and returns its length; `Err(needed)` without
    /// removing it when `out` is too small; `None` when empty.
    pub fn pop_into(&mut self, out: &mut [u8]) -> Option<Result<usize, usize>> {
        let len = self.front_len()?;
        if out.len() < len {
            return Some(Err(len));
        }
        let buf = self.queued.pop_front()?;
        out[..len].copy_from_slice(&buf);
        // Oversized buffers are not kept, so one big datagram does not pin memory forever.
        if self.spare.len() < 64 && buf.capacity() <= 2048 {
            self.spare.push(buf);
        }
        Some(Ok(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_bounded_and_keeps_what_does_not_fit() {
        let mut q = DatagramQueue::new(2);
        q.push(b"first!");
        q.push(b"2nd");
        assert!(q.is_full());
        let mut small = [0u8; 4];
        assert_eq!(q.pop_into(&mut small), Some(Err(6)));
        assert_eq!(q.len(), 2);
        let mut big = [0u8; 16];
        assert_eq!(q.pop_into(&mut big), Some(Ok(6)));
        assert_eq!(&big[..6], b"first!");
        assert_eq!(q.pop_into(&mut small), Some(Ok(3)));
        assert_eq!(&small[..3], b"2nd");
        assert_eq!(q.pop_into(&mut small), None);
    }
}
