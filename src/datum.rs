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
}

impl Jsonb {
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
