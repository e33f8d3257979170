//! Pass-through argument types.
//!
//! pgrx's `JsonB` converts every value to text and through serde both ways. queue_ext never looks
//! inside a payload, so payloads travel as the caller's own datum straight into the INSERT: the
//! enqueue hot path does no JSON work at all.

use pgrx::callconv::{Arg, ArgAbi};
use pgrx::nullable::Nullable;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable};
use pgrx::{FromDatum, IntoDatum};

macro_rules! raw_datum_type {
    ($name:ident, $sql:literal, $oid:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug)]
        pub struct $name(pg_sys::Datum);

        impl FromDatum for $name {
            unsafe fn from_polymorphic_datum(
                datum: pg_sys::Datum,
                is_null: bool,
                _typoid: pg_sys::Oid,
            ) -> Option<Self> {
                (!is_null).then_some($name(datum))
            }
        }

        impl IntoDatum for $name {
            fn into_datum(self) -> Option<pg_sys::Datum> {
                Some(self.0)
            }
            fn type_oid() -> pg_sys::Oid {
                $oid
            }
        }

        unsafe impl<'fcx> ArgAbi<'fcx> for $name {
            unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
                let index = arg.index();
                unsafe { arg.unbox_arg_using_from_datum() }
                    .unwrap_or_else(|| panic!("argument {index} must not be null"))
            }

            unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
                unsafe { arg.unbox_arg_using_from_datum() }.into()
            }
        }

        unsafe impl SqlTranslatable for $name {
            const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!($name);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }
    };
}

raw_datum_type!(Jsonb, "jsonb", pg_sys::JSONBOID, "A `jsonb` argument, untouched.");
raw_datum_type!(JsonbArray, "jsonb[]", pg_sys::JSONBARRAYOID, "A `jsonb[]` argument, untouched.");

/// What enqueue_many needs to know about its payload array before inserting it.
pub struct ArrayShape {
    pub dimensions: usize,
    pub len: usize,
    pub has_nulls: bool,
}

impl JsonbArray {
    /// Detoast once (the detoasted copy is what gets bound to the INSERT) and read the header.
    pub fn detoasted_shape(self) -> (JsonbArray, ArrayShape) {
        // SAFETY: the datum is a non-null jsonb[] argument of the current call; pg_detoast_datum
        // returns either it or a palloc'd flat copy in the current memory context.
        unsafe {
            let flat = pg_sys::pg_detoast_datum(self.0.cast_mut_ptr::<pg_sys::varlena>());
            let raw = pgrx::array::RawArray::from_ptr(
                std::ptr::NonNull::new(flat.cast::<pg_sys::ArrayType>()).expect("detoasted array"),
            );
            let shape = ArrayShape { dimensions: raw.dims().len(), len: raw.len(), has_nulls: raw.any_nulls() };
            (JsonbArray(pg_sys::Datum::from(flat)), shape)
        }
    }

    /// The first element that is not a JSON object, as (its subscript, its type). For the flat,
    /// one-dimensional, NULL-free array detoasted_shape returns.
    pub fn first_non_object(self) -> Option<(i32, JsonType)> {
        // SAFETY: self is a flat jsonb[] of at most one dimension without NULLs; deconstruct_array
        // returns its n elements' datums (pointing into it) in a palloc'd array. An array's
        // lower bounds follow its dimensions (ARR_LBOUND in PostgreSQL's array.h).
        unsafe {
            let array = self.0.cast_mut_ptr::<pg_sys::ArrayType>();
            if (*array).ndim != 1 {
                return None;
            }
            let lower = *array.cast::<u8>().add(std::mem::size_of::<pg_sys::ArrayType>()).cast::<i32>().add(1);
            let mut elements: *mut pg_sys::Datum = std::ptr::null_mut();
            let mut n = 0;
            pg_sys::deconstruct_array(
                array,
                pg_sys::JSONBOID,
                -1,
                false,
                b'i' as std::ffi::c_char,
                &mut elements,
                std::ptr::null_mut(),
                &mut n,
            );
            (0..n as usize).find_map(|i| {
                let t = Jsonb(*elements.add(i)).json_type();
                (t != JsonType::Object).then_some((lower + i as i32, t))
            })
        }
    }
}

/// A JSON value's type at its top level, as jsonb_typeof names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    Object,
    Array,
    String,
    Number,
    Boolean,
    Null,
}

impl JsonType {
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::Object => "object",
            JsonType::Array => "array",
            JsonType::String => "string",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Null => "null",
        }
    }
}

impl Jsonb {
    /// The value's type, read from the tag bits of its root container's header (and, for a
    /// scalar, of its one entry; see PostgreSQL's jsonb.h): no parse, and no more than 8 bytes
    /// fetched when the value is compressed or stored out of line.
    pub fn json_type(self) -> JsonType {
        const JB_FSCALAR: u32 = 0x1000_0000;
        const JB_FOBJECT: u32 = 0x2000_0000;
        const JENTRY_TYPEMASK: u32 = 0x7000_0000;
        // SAFETY: the datum is a non-null jsonb; its data starts with the root container's u32
        // header, followed for a scalar (a one-element array) by that element's u32 JEntry.
        unsafe {
            let ptr = self.0.cast_mut_ptr::<pg_sys::varlena>();
            let data: *const u8 = if pgrx::varlena::varatt_is_4b_u(ptr)
                || (pgrx::varlena::varatt_is_1b(ptr) && !pgrx::varlena::varatt_is_1b_e(ptr))
            {
                pgrx::varlena::vardata_any(ptr).cast()
            } else {
                pgrx::varlena::vardata_any(pg_sys::pg_detoast_datum_slice(ptr, 0, 8)).cast()
            };
            let header = std::ptr::read_unaligned(data.cast::<u32>());
            if header & JB_FOBJECT != 0 {
                return JsonType::Object;
            }
            if header & JB_FSCALAR == 0 {
                return JsonType::Array;
            }
            match std::ptr::read_unaligned(data.add(4).cast::<u32>()) & JENTRY_TYPEMASK {
                0x0000_0000 => JsonType::String,
                0x1000_0000 => JsonType::Number,
                0x2000_0000 | 0x3000_0000 => JsonType::Boolean,
                _ => JsonType::Null,
            }
        }
    }

    /// Copy a payload read through SPI into the caller's memory context: SPI frees its own
    /// memory when the connection closes, and claimed payloads must outlive it.
    pub fn transfer_out_of_spi(self) -> Jsonb {
        // SAFETY: self.0 is a valid jsonb varlena read from an SPI result that is still open.
        unsafe { Jsonb(pg_sys::SPI_datumTransfer(self.0, false, -1)) }
    }
}

/// A row of a trigger's table as a composite datum; bound with the table's row type.
pub struct RowDatum(pub pg_sys::Datum);

impl IntoDatum for RowDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(self.0)
    }
    fn type_oid() -> pg_sys::Oid {
        pg_sys::RECORDOID
    }
}

raw_datum_type!(RegClass, "regclass", pg_sys::REGCLASSOID, "A `regclass` argument: a relation's OID.");

impl RegClass {
    pub fn oid(self) -> pg_sys::Oid {
        pg_sys::Oid::from(self.0.value() as u32)
    }
}
