!> The shallow-water solver in single precision (wp = real32): the
!> kind-generic body of swe_solver.inc compiled for this kind.
module swe_solver_sp
  use, intrinsic :: iso_fortran_env, only: real32, real64, wp => real32
  use mpi_f08
  use swe_common
  implicit none
  private
  public :: run_solver

  !> MPI datatype of real(wp), set by run_solver.
  type(MPI_Datatype) :: wp_type
  !> Halo message buffers (grown on demand, reused by every exchange).
  real(wp), allocatable, target, asynchronous :: sbuf_lo(:), sbuf_hi(:), rbuf_lo(:), rbuf_hi(:)

  include 'swe_solver.inc'

end module swe_solver_sp
